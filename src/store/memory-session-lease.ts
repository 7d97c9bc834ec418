import { KeelError } from '../errors/index.ts';
import type { Clock } from '../spec/clock.ts';
import type { AcquireLeaseResult, SessionLeaseRecord, SessionLeaseStore } from '../spec/session-lease.ts';
import { checkLeaseParties, checkLeaseRequest } from './session-lease-rules.ts';

export interface MemorySessionLeaseStoreOptions {
  /** Decides when a lease has expired; defaults to the system clock. */
  readonly clock?: Pick<Clock, 'now'>;
}

interface StoredLease {
  readonly record: SessionLeaseRecord;
  readonly released: boolean;
}

/**
 * Session leases in process memory, for tests and single-process embedding. The rules are the SQLite store's:
 * the fence rises at every new tenure, and a released lease keeps its fence so that the next holder's is higher.
 */
export function createMemorySessionLeaseStore(options: MemorySessionLeaseStoreOptions = {}): SessionLeaseStore {
  const clock = options.clock ?? { now: () => Date.now() };
  const leases = new Map<string, StoredLease>();
  let closed = false;

  function ensureOpen(): void {
    if (closed) throw new KeelError('storage-failure', 'The in-memory session lease store is closed.', { retryable: false });
  }

  return {
    async acquire(request): Promise<AcquireLeaseResult> {
      ensureOpen();
      checkLeaseRequest(request);
      const now = clock.now();
      const previous = leases.get(request.sessionId);
      const live = previous !== undefined && !previous.released && previous.record.expiresAt > now;
      if (live && previous.record.owner !== request.owner) return { acquired: false, holder: previous.record };
      const renewal = live && previous.record.owner === request.owner;
      const record: SessionLeaseRecord = Object.freeze({
        sessionId: request.sessionId,
        owner: request.owner,
        acquiredAt: renewal ? previous.record.acquiredAt : now,
        expiresAt: now + request.ttlMs,
        fence: renewal ? previous.record.fence : (previous?.record.fence ?? 0) + 1,
      });
      leases.set(request.sessionId, { record, released: false });
      const tookOver = previous !== undefined && !previous.released && !live && previous.record.owner !== request.owner;
      return tookOver ? { acquired: true, lease: record, tookOverFrom: previous.record.owner } : { acquired: true, lease: record };
    },
    async renew(request) {
      ensureOpen();
      checkLeaseRequest(request);
      const stored = leases.get(request.sessionId);
      if (stored === undefined || stored.released || stored.record.owner !== request.owner) return false;
      leases.set(request.sessionId, { record: Object.freeze({ ...stored.record, expiresAt: clock.now() + request.ttlMs }), released: false });
      return true;
    },
    async release(sessionId, owner) {
      ensureOpen();
      checkLeaseParties(sessionId, owner);
      const stored = leases.get(sessionId);
      if (stored === undefined || stored.released || stored.record.owner !== owner) return;
      leases.set(sessionId, { record: stored.record, released: true });
    },
    async current(sessionId) {
      ensureOpen();
      const stored = leases.get(sessionId);
      return stored === undefined || stored.released ? undefined : stored.record;
    },
    async close() {
      closed = true;
    },
  };
}
