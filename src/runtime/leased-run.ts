import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { KeelError } from '../errors/index.ts';
import type { SessionRun } from '../loop/index.ts';
import { iterableAfter } from './admitted-run.ts';
import type { AcquireLeaseResult, SessionLeaseRecord, SessionLeaseStore } from '../spec/session-lease.ts';

/**
 * One writer per session: a run takes the session's lease before its first step and keeps renewing it, so a second
 * process that resumes the same session is refused at once with `session-busy` instead of running the in-flight tool
 * a second time. A holder that stops renewing (it crashed) loses the lease after `ttlMs` and the next resume takes
 * it over. A holder that loses its lease while running (paused past the ttl, say) stops before its next append.
 */
export interface LeaseSettings {
  readonly store: SessionLeaseStore;
  /** Stable for this Keel instance: host, process id and a random part. */
  readonly owner: string;
  readonly ttlMs: number;
  readonly now: () => number;
}

export const defaultLeaseTtlMs = 30_000;

export function leaseOwnerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/**
 * Takes the lease or throws `session-busy` naming the holder and how long it has held it. A holder on this host whose
 * process no longer exists cannot be renewing: its lease is released at once instead of waiting out its expiry, so a
 * worker restarted after a crash resumes its sessions straight away. (A reused pid only makes us wait: the safe side.)
 */
export async function acquireSessionLease(settings: LeaseSettings, sessionId: string): Promise<SessionLeaseRecord> {
  const request = { sessionId, owner: settings.owner, ttlMs: settings.ttlMs };
  let outcome: AcquireLeaseResult = await settings.store.acquire(request);
  if (!outcome.acquired && holderIsDeadOnThisHost(outcome.holder.owner)) {
    await settings.store.release(sessionId, outcome.holder.owner);
    outcome = await settings.store.acquire(request);
  }
  if (outcome.acquired) return outcome.lease;
  throw busyError(settings, sessionId, outcome.holder);
}

function holderIsDeadOnThisHost(owner: string): boolean {
  const match = /^(.*):(\d+):[0-9a-f]{8}$/.exec(owner);
  if (match === null || match[1] !== hostname()) return false;
  const pid = Number(match[2]);
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    // EPERM: the process exists under another user. Only ESRCH says it is gone.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function busyError(settings: LeaseSettings, sessionId: string, holder: SessionLeaseRecord): KeelError {
  const heldFor = Math.max(0, Math.round((settings.now() - holder.acquiredAt) / 1000));
  const expiresIn = Math.max(0, Math.ceil((holder.expiresAt - settings.now()) / 1000));
  return new KeelError(
    'session-busy',
    `Session ${sessionId} is being run by ${holder.owner} (for ${heldFor} s). Only one process may run a session at a time; if that process has died, its lease expires in ${expiresIn} s and the session can be resumed then.`,
    { details: { sessionId, holder: holder.owner, heldForSeconds: heldFor, expiresInSeconds: expiresIn } },
  );
}

/**
 * Runs `start` under the session's lease. The returned run has the same id at once; its events and result follow
 * once the lease is held. The lease is released when the run's result settles, whatever it is.
 */
export function runUnderLease(settings: LeaseSettings, sessionId: string, start: (leaseLost: AbortSignal) => SessionRun): SessionRun {
  const lost = new AbortController();
  let renewal: ReturnType<typeof setInterval> | undefined;
  const inner = (async () => {
    await acquireSessionLease(settings, sessionId);
    renewal = keepRenewing(settings, sessionId, lost);
    return start(lost.signal);
  })();
  const result = inner
    .then((run) => run.result)
    .finally(async () => {
      clearInterval(renewal);
      await settings.store.release(sessionId, settings.owner).catch(() => undefined);
    });
  // A caller that only iterates must not see an unhandled rejection; one that awaits `result` still gets it.
  result.catch(() => undefined);
  return iterableAfter(sessionId, result, inner);
}

export function keepRenewing(settings: LeaseSettings, sessionId: string, lost: AbortController): ReturnType<typeof setInterval> {
  const timer = setInterval(() => {
    settings.store
      .renew({ sessionId, owner: settings.owner, ttlMs: settings.ttlMs })
      // A failed renewal is retried at the next tick: the lease may still be ours, and the journal's
      // expected-sequence check refuses a second writer's appends even if it is not.
      .catch(() => true)
      .then((held) => {
        if (held || lost.signal.aborted) return;
        clearInterval(timer);
        lost.abort(new KeelError('session-busy', `This process lost the lease of session ${sessionId} (it was not renewed within ${settings.ttlMs} ms and another process took it over); it stopped before writing more.`));
      });
  }, Math.max(50, Math.floor(settings.ttlMs / 3)));
  timer.unref();
  return timer;
}
