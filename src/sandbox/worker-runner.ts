import { Worker } from 'node:worker_threads';
import { parseJobMessage, settleJobMessage } from './job-message.ts';
import type { JobMessage } from './job-message.ts';
import { OutputCollector } from './output-collector.ts';
import { sandboxConcurrency, withConcurrencyLimit } from './concurrency.ts';
import type { ConcurrencyLimiter } from './concurrency.ts';
import { assertRunnable, defaultOutputBytes, withDefaultLimits } from './sandbox.ts';
import type { SandboxJob, SandboxLimits, SandboxResult, SandboxRunner } from './sandbox.ts';
import { abortedError, cpuLimitError, crashedError, jobFailedError, memoryLimitError, timeoutError } from './sandbox-errors.ts';

const workerProgram = new URL('./worker-program.mjs', import.meta.url);
/** How long a worker that answered may take to exit by itself (flushing its stdout) before it is terminated. */
const exitGraceMs = 250;
const cpuEnforcement = 'enforced as wall-clock time, which a single worker thread cannot exceed in CPU time';
const memoryEnforcement = 'the worker V8 heap limit (resourceLimits.maxOldGenerationSizeMb)';

export interface WorkerRunnerOptions {
  /** Jobs of this runner that may run at once; defaults to the process-wide worker limiter (one per CPU). */
  readonly concurrency?: ConcurrencyLimiter;
}

/**
 * Runs JavaScript in a worker thread of the host process, with `worker.terminate()` on timeout and abort. It is for
 * TRUSTED code that may be buggy (a loop, a leak), never for untrusted code: `selectRunner` refuses it for that.
 * docs/sandboxes.md has the table of what each runner contains.
 *
 * Contains: an infinite loop (terminated, even mid-loop), the usual JavaScript heap bomb (V8's per-isolate heap
 * limit, memoryMb or 512 MiB by default, ends the worker with ERR_WORKER_OUT_OF_MEMORY), `process.env` (the worker
 * gets an empty one), the host's globals (a separate V8 isolate: only the JSON-like input crosses).
 *
 * Does NOT contain, because the thread is part of the host process: the file system (it reads and writes whatever
 * the host can, /proc/self/environ with the host's secrets included), the network, child processes, signals (it
 * can `process.kill(process.pid)` the host), the host's memory and objects (`node:inspector`'s
 * `Session.connectToMainThread()` lets it evaluate code in the host's main thread and read its environment), and
 * memory in general: some allocations (a Map or an array grown past the limit in one step) make V8 abort the whole
 * process with a fatal out-of-memory error instead of ending the worker, and ArrayBuffer backing stores come from
 * the host's allocator.
 */
export function createWorkerRunner(options: WorkerRunnerOptions = {}): SandboxRunner {
  const runner: SandboxRunner = {
    name: 'worker',
    isolation: 1,
    jobKinds: new Set(['javascript']),
    contains: new Set(['environment', 'cpu', 'memory']),
    enforces: new Set(['timeoutMs', 'memoryMb', 'cpuTimeMs', 'outputBytes']),
    available: () => Promise.resolve(true),
    run: withConcurrencyLimit('worker', options.concurrency ?? sandboxConcurrency('worker'), (job, limits, signal) => {
      assertRunnable(runner, job.kind, limits);
      return runInWorker(job as Extract<SandboxJob, { kind: 'javascript' }>, withDefaultLimits(runner, limits), signal);
    }),
  };
  return runner;
}

function runInWorker(job: Extract<SandboxJob, { kind: 'javascript' }>, limits: SandboxLimits, signal: AbortSignal | undefined): Promise<SandboxResult> {
  if (signal?.aborted) return Promise.reject(abortedError('worker', signal.reason));
  const started = performance.now();
  const outputBytes = limits.outputBytes ?? defaultOutputBytes;
  const stdout = new OutputCollector(outputBytes);
  const stderr = new OutputCollector(outputBytes);
  const worker = new Worker(workerProgram, {
    workerData: { code: job.code, input: job.input },
    // Without these the worker would inherit the host's loader flags (tsx, say) and its environment.
    execArgv: [],
    argv: [],
    env: {},
    stdin: false,
    stdout: true,
    stderr: true,
    ...(limits.memoryMb === undefined
      ? {}
      : {
          resourceLimits: {
            maxOldGenerationSizeMb: limits.memoryMb,
            // The young generation is part of the budget too; a quarter of it, at most V8's usual 16 MiB.
            maxYoungGenerationSizeMb: Math.max(1, Math.min(16, Math.floor(limits.memoryMb / 4))),
            stackSizeMb: 4,
          },
        }),
  });
  worker.stdout.on('data', (chunk: Buffer) => stdout.add(chunk));
  worker.stderr.on('data', (chunk: Buffer) => stderr.add(chunk));

  return new Promise<SandboxResult>((resolve, reject) => {
    let message: JobMessage | undefined;
    let failure: Error | undefined;
    let stopped: (() => Error) | undefined;
    const timers: NodeJS.Timeout[] = [];

    const stop = (reason: () => Error): void => {
      if (stopped !== undefined || message !== undefined) return;
      stopped = reason;
      void worker.terminate();
    };
    timers.push(setTimeout(() => stop(() => timeoutError('worker', limits.timeoutMs)), limits.timeoutMs));
    const cpuTimeMs = limits.cpuTimeMs;
    if (cpuTimeMs !== undefined && cpuTimeMs < limits.timeoutMs) {
      timers.push(setTimeout(() => stop(() => cpuLimitError('worker', cpuTimeMs, cpuEnforcement)), cpuTimeMs));
    }
    const onAbort = (): void => stop(() => abortedError('worker', signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });

    worker.on('message', (received: unknown) => {
      message ??= parseJobMessage(received);
      // The job has answered; it gets a moment to exit on its own so its last output is not lost.
      timers.push(setTimeout(() => void worker.terminate(), exitGraceMs));
    });
    worker.on('error', (error: Error & { code?: string }) => {
      failure ??= error;
    });
    worker.on('exit', (exitCode) => {
      for (const timer of timers) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      // Output already sent by the thread is queued behind its exit; let it land first.
      setImmediate(() => {
        try {
          resolve(settle(exitCode));
        } catch (error) {
          reject(error);
        }
      });
    });

    function settle(exitCode: number): SandboxResult {
      if (stopped !== undefined) throw stopped();
      if (message !== undefined) {
        const settled = settleJobMessage('worker', message, limits, memoryEnforcement);
        if (!settled.ok) throw settled.error;
        return { value: settled.value, stdout: stdout.text(), stderr: stderr.text(), durationMs: performance.now() - started };
      }
      const code = (failure as { code?: string } | undefined)?.code;
      if (code === 'ERR_WORKER_OUT_OF_MEMORY' && limits.memoryMb !== undefined) {
        throw memoryLimitError('worker', limits.memoryMb, memoryEnforcement, failure);
      }
      if (failure !== undefined) throw jobFailedError('worker', failure.name, failure.message);
      throw crashedError('worker', `the worker exited with code ${exitCode} before returning a result`, stderr.tail());
    }
  });
}
