import { format } from 'node:util';
import { settleJobMessage } from './job-message.ts';
import { OutputCollector } from './output-collector.ts';
import { sandboxConcurrency, withConcurrencyLimit } from './concurrency.ts';
import type { ConcurrencyLimiter } from './concurrency.ts';
import { assertRunnable, defaultOutputBytes } from './sandbox.ts';
import type { SandboxJob, SandboxLimits, SandboxResult, SandboxRunner } from './sandbox.ts';
import { abortedError, jobFailedError, notSerialisableError, timeoutError } from './sandbox-errors.ts';

type JobBody = (input: unknown, console: Pick<Console, 'log' | 'info' | 'debug' | 'warn' | 'error'>) => Promise<unknown>;
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...parameters: string[]) => JobBody;

export interface InProcessRunnerOptions {
  /** Jobs of this runner that may run at once; defaults to the process-wide in-process limiter (one per CPU). */
  readonly concurrency?: ConcurrencyLimiter;
}

/**
 * Runs JavaScript in the host itself: no isolation at all. The code MUST be trusted and asynchronous (a tool's own
 * logic written as a string, tests). It gives the code a `console` whose output is captured, caps that output and
 * the result at outputBytes (1 MiB by default), and stops *waiting* on timeout and abort.
 *
 * It contains nothing. The code has the host's globals, modules, file system, network and environment. A timeout
 * or abort ends the wait but cannot stop the code: synchronous code cannot be interrupted, so a synchronous loop
 * blocks the host's event loop for good (the timeout never even fires), and a memory bomb takes the host down with
 * it. There is no memory or CPU limit to set. `selectRunner` never picks it for untrusted code.
 */
export function createInProcessRunner(options: InProcessRunnerOptions = {}): SandboxRunner {
  const runner: SandboxRunner = {
    name: 'in-process',
    isolation: 0,
    jobKinds: new Set(['javascript']),
    contains: new Set(),
    enforces: new Set(['timeoutMs', 'outputBytes']),
    available: () => Promise.resolve(true),
    run: withConcurrencyLimit('in-process', options.concurrency ?? sandboxConcurrency('in-process'), async (job: SandboxJob, limits: SandboxLimits, signal?: AbortSignal): Promise<SandboxResult> => {
      assertRunnable(runner, job.kind, limits);
      const { code, input } = job as Extract<SandboxJob, { kind: 'javascript' }>;
      if (signal?.aborted) throw abortedError('in-process', signal.reason);
      const started = performance.now();
      const outputBytes = limits.outputBytes ?? defaultOutputBytes;
      const stdout = new OutputCollector(outputBytes);
      const stderr = new OutputCollector(outputBytes);
      const write = (collector: OutputCollector) => (...values: unknown[]): void => collector.add(`${format(...values)}\n`);
      const capturedConsole = { log: write(stdout), info: write(stdout), debug: write(stdout), warn: write(stderr), error: write(stderr) };

      let body: JobBody;
      try {
        body = new AsyncFunction('input', 'console', code);
      } catch (error) {
        throw describeThrown(error);
      }
      // A copy, so the code cannot reach back into the caller's object through its input.
      const running = Promise.resolve().then(() => body(structuredClone(input), capturedConsole));
      let value: unknown;
      try {
        value = await raceLimits(running, limits.timeoutMs, signal);
      } catch (error) {
        if (error instanceof Stopped) throw error.toKeelError(limits);
        throw describeThrown(error);
      }
      let json: string;
      try {
        json = JSON.stringify(value) ?? 'null';
      } catch (error) {
        throw notSerialisableError('in-process', error instanceof Error ? error.message : String(error));
      }
      const settled = settleJobMessage('in-process', { type: 'result', json }, limits, 'none');
      if (!settled.ok) throw settled.error;
      return { value: settled.value, stdout: stdout.text(), stderr: stderr.text(), durationMs: performance.now() - started };
    }),
  };
  return runner;
}

class Stopped {
  readonly why: 'timeout' | 'abort';
  readonly reason?: unknown;
  constructor(why: 'timeout' | 'abort', reason?: unknown) {
    this.why = why;
    this.reason = reason;
  }
  toKeelError(limits: SandboxLimits): Error {
    return this.why === 'timeout' ? timeoutError('in-process', limits.timeoutMs, false) : abortedError('in-process', this.reason, false);
  }
}

function raceLimits(running: Promise<unknown>, timeoutMs: number, signal: AbortSignal | undefined): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Stopped('timeout')), timeoutMs);
    const onAbort = (): void => reject(new Stopped('abort', signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    running.then(
      (value) => {
        done();
        resolve(value);
      },
      (error: unknown) => {
        done();
        reject(error);
      },
    );
  });
}

function describeThrown(error: unknown): Error {
  return error instanceof Error ? jobFailedError('in-process', error.name, error.message) : jobFailedError('in-process', 'Thrown value', String(error));
}
