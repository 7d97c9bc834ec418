import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { KeelError, toKeelError } from '../errors/index.ts';
import type { AgentDefinition } from '../loop/index.ts';
import type { Keel } from '../runtime/index.ts';
import { AgentCatalog } from './agent-catalog.ts';
import type { WorkerAgent } from './agent-catalog.ts';
import { sweepApprovals } from './approval-sweep.ts';
import { runClaimedSession } from './claimed-run.ts';
import { SessionEventAnnouncer } from './event-announcer.ts';
import type { QueuedRun, Settlement } from './queue-rows.ts';
import type { QueueListener, RunQueue } from './run-queue.ts';

export interface WorkerOptions {
  /** Where sessions run: its journal, leases and tools. Give every worker of a queue the same database. */
  readonly keel: Keel;
  readonly queue: RunQueue;
  /** The agents this worker runs; a queued session names one of them. */
  readonly agents: readonly (AgentDefinition | WorkerAgent)[];
  /** This worker's id in claims; default host, process id and a random part. */
  readonly id?: string;
  /** Sessions run at once. Default 32. */
  readonly concurrency?: number;
  /**
   * How long a claim lasts without renewal (renewed every third of it): a worker that dies loses its sessions to
   * the others after this long. Use the Keel's `leaseTtlMs`. Default 30 s.
   */
  readonly claimTtlMs?: number;
  /** Polling when no notification arrives: from `minMs`, doubling while the queue is empty, up to `maxMs`. Default 50 ms to 2 s. */
  readonly poll?: { readonly minMs?: number; readonly maxMs?: number };
  /** Claims of one session that fail without reaching an end before it is marked `failed`. Default 5. */
  readonly maxAttempts?: number;
  /** The delay before the first retry of such a claim, doubling after each. Default 1 s. */
  readonly retryBaseMs?: number;
  /**
   * How often sessions waiting for approval are checked for a decision journaled without `queue.wake` (the fallback
   * when a waker forgot or crashed). Default 5 s; 0 turns it off.
   */
  readonly approvalSweepMs?: number;
  /** LISTEN for ready sessions (default true); without it the worker only polls. */
  readonly listen?: boolean;
  /**
   * Model specs beyond provider specs (`anthropic:`, `openai:`, `openai-compatible:`) that a queue row may name,
   * compared exactly: typically the `scripted:` spec the worker itself was started with. A queue row naming any other
   * spec fails as `invalid-argument`, so whoever can write to the queue cannot make a worker read local files.
   */
  readonly queueModels?: readonly string[];
  /** Called for each thing the worker does, for logs and metrics; must not throw. */
  readonly onEvent?: (event: WorkerEvent) => void;
}

/** What a worker reports as it works. */
export type WorkerEvent =
  | { readonly type: 'claimed'; readonly sessionId: string; readonly claimId: number; readonly attempt: number }
  | { readonly type: 'settled'; readonly sessionId: string; readonly claimId: number; readonly settlement: Settlement; readonly kept: boolean }
  | { readonly type: 'claim-lost'; readonly sessionId: string; readonly claimId: number }
  | { readonly type: 'queue-error'; readonly error: KeelError };

export interface WorkerStopReport {
  /** Runs that ended or suspended during the grace period. */
  readonly finished: number;
  /** Runs handed off when the grace period ran out: they stopped before their next write and are queued again. */
  readonly handedOff: number;
}

/** A process's worker: claims sessions from the run queue and runs them under their leases. */
export interface Worker {
  readonly id: string;
  /** Sessions running now. */
  readonly running: number;
  /** Migrates the queue, starts listening and claiming; resolves once it does. */
  start(): Promise<void>;
  /**
   * Stops claiming, lets running sessions finish for `graceMs` (default 30 s), then hands the rest off: each stops
   * before its next write and is queued again for another worker. Safe to call twice.
   */
  stop(options?: { readonly graceMs?: number }): Promise<WorkerStopReport>;
}

interface ActiveRun {
  readonly row: QueuedRun;
  readonly claimId: number;
  readonly handOff: AbortController;
  readonly cancel: AbortController;
  done: Promise<void>;
}

/**
 * A stateless worker: everything it knows is in PostgreSQL. Many processes on many hosts share one queue; each
 * session is claimed by one of them at a time (`FOR UPDATE SKIP LOCKED`), runs under the session's lease, and is
 * settled when it ends, waits for a person, or is handed off.
 * @example
 * ```ts
 * const keel = createKeel({ storage: { kind: 'postgres', url } });
 * const worker = createWorker({ keel, queue: createRunQueue({ url }), agents: [support] });
 * await worker.start();
 * process.once('SIGTERM', () => void worker.stop().then(() => keel.close()));
 * ```
 */
export function createWorker(options: WorkerOptions): Worker {
  const settings = resolveSettings(options);
  const agents = new AgentCatalog(options.agents);
  const queueModels = new Set(options.queueModels ?? []);
  const { keel, queue } = options;
  const emit = (event: WorkerEvent): void => {
    try {
      options.onEvent?.(event);
    } catch {
      // A logging callback must not stop the worker.
    }
  };
  const active = new Map<number, ActiveRun>();
  const bySession = new Map<string, ActiveRun>();
  const announcer = new SessionEventAnnouncer(queue, (error) => emit({ type: 'queue-error', error: toKeelError(error) }));
  const cancelRun = (sessionId: string, reason: string | null): void => {
    const run = bySession.get(sessionId);
    if (run === undefined || run.cancel.signal.aborted) return;
    run.cancel.abort(new KeelError('cancelled', reason ?? `A cancel of session ${sessionId} was requested.`));
  };
  let stopping = false;
  let started: Promise<void> | undefined;
  let stopped: Promise<WorkerStopReport> | undefined;
  let loopDone: Promise<void> = Promise.resolve();
  let listener: QueueListener | undefined;
  let renewal: ReturnType<typeof setInterval> | undefined;
  let sweep: ReturnType<typeof setInterval> | undefined;
  let finishedDuringStop = 0;

  // The claim loop sleeps until a notification, a freed slot or the poll timer.
  let wakeSleeper: ((notified: boolean) => void) | undefined;
  const wake = (notified: boolean): void => {
    const resolve = wakeSleeper;
    wakeSleeper = undefined;
    resolve?.(notified);
  };
  const sleep = (ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => wake(false), ms);
      wakeSleeper = (notified) => {
        clearTimeout(timer);
        resolve(notified);
      };
    });

  const settle = async (run: ActiveRun, settlement: Settlement): Promise<boolean> => {
    // A database hiccup should not leave the claim to expire: retry briefly, then let expiry hand the session on.
    for (const delay of [0, 200, 1000, 3000]) {
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      try {
        return await queue.settle({ sessionId: run.row.sessionId, claimId: run.claimId }, settlement);
      } catch (error) {
        emit({ type: 'queue-error', error: toKeelError(error) });
      }
    }
    return false;
  };

  const launch = (row: QueuedRun, claimId: number): void => {
    const run: ActiveRun = { row, claimId, handOff: new AbortController(), cancel: new AbortController(), done: Promise.resolve() };
    active.set(claimId, run);
    bySession.set(row.sessionId, run);
    if (row.cancelRequestedAt !== null) cancelRun(row.sessionId, row.cancelReason);
    emit({ type: 'claimed', sessionId: row.sessionId, claimId, attempt: row.attempts });
    run.done = (async () => {
      const settlement = await runClaimedSession(row, {
        keel,
        agents,
        handOff: run.handOff.signal,
        cancel: run.cancel.signal,
        onUpdate: (update) => {
          if (update.type === 'event') announcer.announce(row.sessionId);
        },
        maxAttempts: settings.maxAttempts,
        retryBaseMs: settings.retryBaseMs,
        queueModels,
      });
      announcer.announce(row.sessionId);
      const kept = await settle(run, settlement);
      if (stopping && settlement.kind !== 'retry') finishedDuringStop += 1;
      emit({ type: 'settled', sessionId: row.sessionId, claimId, settlement, kept });
    })().finally(() => {
      active.delete(claimId);
      if (bySession.get(row.sessionId) === run) bySession.delete(row.sessionId);
      wake(false);
    });
  };

  const claimLoop = async (): Promise<void> => {
    let idleMs = settings.minPollMs;
    while (!stopping) {
      const free = settings.concurrency - active.size;
      if (free <= 0) {
        await sleep(settings.maxPollMs);
        continue;
      }
      let rows: readonly QueuedRun[];
      try {
        rows = await queue.claim({ worker: settings.id, limit: free, ttlMs: settings.claimTtlMs, maxAttempts: settings.maxAttempts });
      } catch (error) {
        emit({ type: 'queue-error', error: toKeelError(error) });
        await sleep(idleMs);
        idleMs = Math.min(settings.maxPollMs, idleMs * 2);
        continue;
      }
      for (const row of rows) {
        if (row.claimId === null) continue;
        // Claimed as the worker began to stop: queued again at once, before stop() closes anything.
        if (stopping) await settle({ row, claimId: row.claimId, handOff: new AbortController(), cancel: new AbortController(), done: Promise.resolve() }, { kind: 'retry', outcome: 'handed-off', delayMs: 0, error: null });
        else launch(row, row.claimId);
      }
      if (rows.length > 0) {
        idleMs = settings.minPollMs;
        if (rows.length === free) continue;
      }
      const notified = await sleep(idleMs);
      idleMs = notified ? settings.minPollMs : Math.min(settings.maxPollMs, idleMs * 2);
    }
  };

  const renewClaims = async (): Promise<void> => {
    const claimIds = [...active.keys()];
    if (claimIds.length === 0) return;
    let held: ReadonlySet<number>;
    try {
      held = await queue.renew({ worker: settings.id, claimIds, ttlMs: settings.claimTtlMs });
    } catch (error) {
      // Retried at the next tick; the session's lease and the journal's sequence check guard the writes meanwhile.
      emit({ type: 'queue-error', error: toKeelError(error) });
      return;
    }
    await checkCancelRequests();
    for (const claimId of claimIds) {
      const run = active.get(claimId);
      if (held.has(claimId) || run === undefined || run.handOff.signal.aborted) continue;
      emit({ type: 'claim-lost', sessionId: run.row.sessionId, claimId });
      run.handOff.abort(new KeelError('session-busy', `Worker ${settings.id} lost its claim on session ${run.row.sessionId} (not renewed within ${settings.claimTtlMs} ms, and another worker took it over); it stopped before writing more.`));
    }
  };

  /** The fallback of cancel notifications: a request whose NOTIFY was lost is found at the next renewal. */
  const checkCancelRequests = async (): Promise<void> => {
    const open = [...bySession.values()].filter((run) => !run.cancel.signal.aborted).map((run) => run.row.sessionId);
    if (open.length === 0) return;
    try {
      for (const sessionId of await queue.cancelRequested(open)) cancelRun(sessionId, null);
    } catch (error) {
      emit({ type: 'queue-error', error: toKeelError(error) });
    }
  };

  const stopWork = async (graceMs: number): Promise<WorkerStopReport> => {
    stopping = true;
    wake(false);
    await loopDone;
    clearInterval(sweep);
    await listener?.close();
    const running = [...active.values()];
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    const graceOver = new Promise<void>((resolve) => {
      graceTimer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.all(running.map((run) => run.done)), graceOver]);
    clearTimeout(graceTimer);
    const remaining = [...active.values()];
    for (const run of remaining) {
      run.handOff.abort(new KeelError('session-busy', `Worker ${settings.id} is shutting down: session ${run.row.sessionId} was handed off before its next write and queued again for another worker.`));
    }
    await Promise.all(remaining.map((run) => run.done));
    clearInterval(renewal);
    return { finished: finishedDuringStop, handedOff: remaining.length };
  };

  return {
    id: settings.id,
    get running() {
      return active.size;
    },
    start() {
      started ??= (async () => {
        if (stopping) throw new KeelError('invalid-argument', `Worker ${settings.id} was stopped; create a new worker to start again.`);
        await queue.migrate();
        if (settings.listen) listener = await queue.subscribe({ onReady: () => wake(true), onCancel: (sessionId) => cancelRun(sessionId, null) });
        renewal = setInterval(() => void renewClaims(), Math.max(50, Math.floor(settings.claimTtlMs / 3)));
        if (settings.approvalSweepMs > 0) {
          sweep = setInterval(() => {
            void sweepApprovals({ queue, journal: keel.journal, limit: 50 }).catch((error: unknown) => emit({ type: 'queue-error', error: toKeelError(error) }));
          }, settings.approvalSweepMs);
        }
        loopDone = claimLoop();
      })();
      return started;
    },
    stop(stopOptions = {}) {
      stopped ??= stopWork(stopOptions.graceMs ?? 30_000);
      return stopped;
    },
  };
}

interface WorkerSettings {
  readonly id: string;
  readonly concurrency: number;
  readonly claimTtlMs: number;
  readonly minPollMs: number;
  readonly maxPollMs: number;
  readonly maxAttempts: number;
  readonly retryBaseMs: number;
  readonly approvalSweepMs: number;
  readonly listen: boolean;
}

function resolveSettings(options: WorkerOptions): WorkerSettings {
  const settings: WorkerSettings = {
    id: options.id ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
    concurrency: options.concurrency ?? 32,
    claimTtlMs: options.claimTtlMs ?? 30_000,
    minPollMs: options.poll?.minMs ?? 50,
    maxPollMs: options.poll?.maxMs ?? 2000,
    maxAttempts: options.maxAttempts ?? 5,
    retryBaseMs: options.retryBaseMs ?? 1000,
    approvalSweepMs: options.approvalSweepMs ?? 5000,
    listen: options.listen ?? true,
  };
  const checks: readonly [string, number, number][] = [
    ['concurrency', settings.concurrency, 1],
    ['claimTtlMs', settings.claimTtlMs, 300],
    ['poll.minMs', settings.minPollMs, 1],
    ['poll.maxMs', settings.maxPollMs, settings.minPollMs],
    ['maxAttempts', settings.maxAttempts, 1],
    ['retryBaseMs', settings.retryBaseMs, 0],
    ['approvalSweepMs', settings.approvalSweepMs, 0],
  ];
  for (const [name, value, minimum] of checks) {
    if (!Number.isInteger(value) || value < minimum) throw new KeelError('invalid-config', `Worker option ${name} must be an integer of at least ${minimum}, got ${String(value)}.`);
  }
  if (settings.id.trim() === '') throw new KeelError('invalid-config', 'A worker id must not be empty.');
  return settings;
}
