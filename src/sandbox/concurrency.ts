import { availableParallelism } from 'node:os';
import { isKeelError, KeelError } from '../errors/index.ts';
import type { RunnerName, SandboxJob, SandboxLimits, SandboxResult } from './sandbox.ts';
import { abortedError, timeoutError } from './sandbox-errors.ts';

/**
 * A counting semaphore with a first-come queue. A waiter that is aborted leaves the queue at once, so a queue of
 * cancelled calls never delays the ones behind it.
 */
export class ConcurrencyLimiter {
  private running = 0;
  private highest = 0;
  private readonly queue: { readonly grant: () => void }[] = [];

  private maximum: number;
  constructor(maximum: number) {
    this.maximum = maximum;
    assertLimit(maximum);
  }

  get limit(): number {
    return this.maximum;
  }
  get active(): number {
    return this.running;
  }
  get waiting(): number {
    return this.queue.length;
  }
  /** The most slots ever held at once: what a test or an operator checks the limit against. */
  get peak(): number {
    return this.highest;
  }

  setLimit(limit: number): void {
    assertLimit(limit);
    this.maximum = limit;
    this.dispatch();
  }

  /** Resolves with the release function once a slot is free; rejects with the signal's reason if aborted first. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          this.take();
          resolve(this.releaser());
        },
      };
      const onAbort = (): void => {
        const index = this.queue.indexOf(waiter);
        if (index !== -1) this.queue.splice(index, 1);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
      this.dispatch();
    });
  }

  private take(): void {
    this.running += 1;
    this.highest = Math.max(this.highest, this.running);
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running -= 1;
      this.dispatch();
    };
  }

  private dispatch(): void {
    while (this.running < this.maximum) {
      const next = this.queue.shift();
      if (next === undefined) return;
      next.grant();
    }
  }
}

function assertLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) throw new KeelError('invalid-config', `A sandbox concurrency limit must be a whole number of at least 1, got ${limit}.`);
}

const sharedLimiters = new Map<RunnerName, ConcurrencyLimiter>();

/** The process-wide limiter of a runner kind: by default one slot per CPU the process may use. */
export function sandboxConcurrency(runner: RunnerName): ConcurrencyLimiter {
  let limiter = sharedLimiters.get(runner);
  if (limiter === undefined) {
    limiter = new ConcurrencyLimiter(availableParallelism());
    sharedLimiters.set(runner, limiter);
  }
  return limiter;
}

/** Sets how many jobs of each named runner kind may run at once in this process; the rest wait in line. */
export function configureSandboxConcurrency(limits: Partial<Record<RunnerName, number>>): void {
  for (const [runner, limit] of Object.entries(limits) as [RunnerName, number][]) sandboxConcurrency(runner).setLimit(limit);
}

type RunJob = (job: SandboxJob, limits: SandboxLimits, signal?: AbortSignal) => Promise<SandboxResult>;

/**
 * Wraps a runner's `run` so that each job first waits for a slot. The wall clock starts at the call: a job that
 * waits its whole `timeoutMs` in line fails with `tool-timeout` without starting, and one that starts gets what is
 * left. An abort while waiting takes the job out of the line.
 */
export function withConcurrencyLimit(name: RunnerName, limiter: ConcurrencyLimiter, run: RunJob): RunJob {
  return async (job, limits, signal) => {
    const started = performance.now();
    const release = await waitForSlot(name, limiter, limits.timeoutMs, signal);
    try {
      const remainingMs = Math.max(1, limits.timeoutMs - (performance.now() - started));
      return await run(job, { ...limits, timeoutMs: remainingMs }, signal);
    } catch (error) {
      // The runner saw the remaining time; the caller asked for timeoutMs, and that is the limit the message names.
      if (isKeelError(error) && error.code === 'tool-timeout') throw timeoutError(name, limits.timeoutMs, name !== 'in-process');
      throw error;
    } finally {
      release();
    }
  };
}

async function waitForSlot(name: RunnerName, limiter: ConcurrencyLimiter, timeoutMs: number, signal: AbortSignal | undefined): Promise<() => void> {
  const waiting = new AbortController();
  const timedOut = new KeelError(
    'tool-timeout',
    `The job waited its whole wall-clock limit of ${timeoutMs} ms (timeoutMs) for one of the ${limiter.limit} slots of the ${name} runner and never started.`,
    { details: { runner: name, limit: 'timeoutMs', value: timeoutMs, concurrency: limiter.limit } },
  );
  const timer = setTimeout(() => waiting.abort(timedOut), timeoutMs);
  const onAbort = (): void => waiting.abort(abortedError(name, signal?.reason));
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  try {
    return await limiter.acquire(waiting.signal);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}
