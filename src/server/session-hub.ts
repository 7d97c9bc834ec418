import type { SessionResult } from '../loop/index.ts';
import { StreamLimits } from './stream-limits.ts';
import type { StreamLimitOptions } from './stream-limits.ts';

/** A session this server process is running: its cancel switch and its end. */
export interface ActiveRun {
  readonly controller: AbortController;
  /** Settles when the run ends (null when it failed without a result: the journal could not be written). */
  readonly done: Promise<SessionResult | null>;
}

/**
 * Wake-ups for event streams and the sessions running here. The journal stays the only source of events: a
 * wake-up only says "read again", so a stream can never see an event that was not journaled, nor miss one.
 */
export class SessionHub {
  private readonly versions = new Map<string, number>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly runs = new Map<string, ActiveRun>();
  /** Event streams open per key and per tenant. */
  readonly streams: StreamLimits;

  constructor(options: { readonly streams?: StreamLimitOptions } = {}) {
    this.streams = new StreamLimits(options.streams);
  }

  /** Something was journaled for the session (or it ended): wake its streams. */
  notify(sessionId: string): void {
    this.versions.set(sessionId, (this.versions.get(sessionId) ?? 0) + 1);
    const waiting = this.waiters.get(sessionId);
    if (waiting === undefined) return;
    this.waiters.delete(sessionId);
    for (const wake of waiting) wake();
  }

  /** Take before reading the journal; `wait` with it returns at once when anything was journaled since. */
  version(sessionId: string): number {
    return this.versions.get(sessionId) ?? 0;
  }

  /** Resolves on the next notification after `since`, after `timeoutMs`, or when `signal` aborts, whichever is first. */
  wait(sessionId: string, since: number, timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (this.version(sessionId) !== since || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        const waiting = this.waiters.get(sessionId);
        waiting?.delete(finish);
        if (waiting?.size === 0) this.waiters.delete(sessionId);
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      signal.addEventListener('abort', finish, { once: true });
      let waiting = this.waiters.get(sessionId);
      if (waiting === undefined) {
        waiting = new Set();
        this.waiters.set(sessionId, waiting);
      }
      waiting.add(finish);
    });
  }

  track(sessionId: string, run: ActiveRun): void {
    this.runs.set(sessionId, run);
    void run.done.finally(() => {
      if (this.runs.get(sessionId) === run) this.runs.delete(sessionId);
      this.notify(sessionId);
      // Streams compare versions for inequality, so a forgotten counter only costs them one extra read.
      if (!this.waiters.has(sessionId)) this.versions.delete(sessionId);
    });
  }

  active(sessionId: string): ActiveRun | undefined {
    return this.runs.get(sessionId);
  }

  activeCount(): number {
    return this.runs.size;
  }

  /** Cancels every run and waits for them to end (server shutdown). */
  async cancelAll(reason: string): Promise<void> {
    const runs = [...this.runs.values()];
    for (const run of runs) run.controller.abort(new Error(reason));
    await Promise.allSettled(runs.map((run) => run.done));
  }
}
