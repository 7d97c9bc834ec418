import { KeelError } from '../errors/index.ts';
import type { Clock } from '../spec/clock.ts';
import type { AcquireLeaseRequest, AcquireLeaseResult, SessionLeaseRecord, SessionLeaseStore } from '../spec/session-lease.ts';
import { checkLeaseParties, checkLeaseRequest } from './session-lease-rules.ts';
import { migrate, openSqliteDatabase } from './sqlite-database.ts';
import type { Migration, SqliteDatabase } from './sqlite-database.ts';
import { groupCommitOf } from './sqlite-group-commit.ts';
import { toStorageFailure } from './storage-failure.ts';

export type SqliteSessionLeaseStoreOptions = (
  | { readonly path: string; readonly busyTimeoutMs?: number }
  /** A database shared with other stores, usually the journal's; the lease store does not close it. */
  | { readonly database: SqliteDatabase }
) & {
  /**
   * Decides when a lease has expired. Every process sharing the file compares its own clock with the
   * expiry another process wrote, so their clocks must agree to well within the lease's ttl.
   */
  readonly clock?: Pick<Clock, 'now'>;
};

export const sessionLeaseMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'session_leases',
    // A released lease keeps its row, and so its fence: the next holder's fence must be higher than any before it.
    sql: `
      CREATE TABLE session_leases (
        session_id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        acquired_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        fence INTEGER NOT NULL,
        released INTEGER NOT NULL DEFAULT 0
      ) WITHOUT ROWID;
    `,
  },
];

interface LeaseRow {
  readonly session_id: string;
  readonly owner: string;
  readonly acquired_at: number;
  readonly expires_at: number;
  readonly fence: number;
  readonly released: number;
}

interface AcquireParameters {
  readonly sessionId: string;
  readonly owner: string;
  readonly now: number;
  readonly expiresAt: number;
}

/**
 * Session leases in the journal's database. Acquisition is one conditional upsert inside an IMMEDIATE
 * transaction, so two processes racing for a free or expired lease serialise on SQLite's write lock and
 * exactly one of them sees its row change; the other reads back the winner's lease.
 */
export function createSqliteSessionLeaseStore(options: SqliteSessionLeaseStoreOptions): SessionLeaseStore {
  const ownsDatabase = !('database' in options);
  const database = 'database' in options ? options.database : openSqliteDatabase(options);
  const path = database.name;
  const clock = options.clock ?? { now: () => Date.now() };
  try {
    migrate(database, 'session-leases', sessionLeaseMigrations);
  } catch (error) {
    if (ownsDatabase) database.close();
    throw error;
  }

  const select = database.prepare<[string], LeaseRow>('SELECT * FROM session_leases WHERE session_id = ?');
  // The fence and the first-acquired time carry over only when the same owner renews a live lease; any other
  // change of hands (a release, an expiry, a new owner) starts a new tenure with a higher fence.
  const upsert = database.prepare<[AcquireParameters]>(
    `INSERT INTO session_leases (session_id, owner, acquired_at, expires_at, fence, released)
       VALUES (@sessionId, @owner, @now, @expiresAt, 1, 0)
     ON CONFLICT (session_id) DO UPDATE SET
       acquired_at = CASE WHEN session_leases.owner = excluded.owner AND session_leases.released = 0 AND session_leases.expires_at > @now
                          THEN session_leases.acquired_at ELSE excluded.acquired_at END,
       fence = CASE WHEN session_leases.owner = excluded.owner AND session_leases.released = 0 AND session_leases.expires_at > @now
                    THEN session_leases.fence ELSE session_leases.fence + 1 END,
       owner = excluded.owner,
       expires_at = excluded.expires_at,
       released = 0
     WHERE session_leases.released = 1 OR session_leases.expires_at <= @now OR session_leases.owner = excluded.owner`,
  );
  const extend = database.prepare<[number, string, string]>('UPDATE session_leases SET expires_at = ? WHERE session_id = ? AND owner = ? AND released = 0');
  const free = database.prepare<[string, string]>('UPDATE session_leases SET released = 1 WHERE session_id = ? AND owner = ? AND released = 0');

  const acquireInTransaction = database.transaction((parameters: AcquireParameters): AcquireLeaseResult => {
    const previous = select.get(parameters.sessionId);
    const changed = upsert.run(parameters).changes === 1;
    const row = select.get(parameters.sessionId);
    if (row === undefined) throw new KeelError('internal', `The lease on session ${parameters.sessionId} vanished inside its own transaction.`);
    if (!changed) return { acquired: false, holder: toRecord(row) };
    const tookOver = previous !== undefined && previous.released === 0 && previous.expires_at <= parameters.now && previous.owner !== parameters.owner;
    return tookOver ? { acquired: true, lease: toRecord(row), tookOverFrom: previous.owner } : { acquired: true, lease: toRecord(row) };
  });

  const groupCommit = groupCommitOf(database);
  let closed = false;
  function guarded<T>(action: string, work: () => T): T {
    if (closed) throw new KeelError('storage-failure', `The session lease store at ${path} is closed.`, { retryable: false, details: { path } });
    try {
      return work();
    } catch (error) {
      throw toStorageFailure(error, { path, action });
    }
  }
  /** Lease changes commit before they return: another process must see them at once, and a crash must not undo them. */
  function durably<T>(action: string, work: () => T): T {
    return guarded(action, () => (groupCommit === undefined ? work() : groupCommit.durable(work)));
  }

  return {
    async acquire(request: AcquireLeaseRequest) {
      checkLeaseRequest(request);
      const now = clock.now();
      const parameters = { sessionId: request.sessionId, owner: request.owner, now, expiresAt: now + request.ttlMs };
      return durably(`taking the lease on session ${request.sessionId}`, () => acquireInTransaction.immediate(parameters));
    },
    async renew(request) {
      checkLeaseRequest(request);
      const expiresAt = clock.now() + request.ttlMs;
      // An owner whose lease expired may still renew it until someone else takes it over: nobody wrote meanwhile.
      return durably(`renewing the lease on session ${request.sessionId}`, () => extend.run(expiresAt, request.sessionId, request.owner).changes === 1);
    },
    async release(sessionId, owner) {
      checkLeaseParties(sessionId, owner);
      durably(`releasing the lease on session ${sessionId}`, () => free.run(sessionId, owner));
    },
    async current(sessionId) {
      return guarded(`reading the lease on session ${sessionId}`, () => {
        const row = select.get(sessionId);
        return row === undefined || row.released === 1 ? undefined : toRecord(row);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      if (ownsDatabase) database.close();
    },
  };
}

function toRecord(row: LeaseRow): SessionLeaseRecord {
  return { sessionId: row.session_id, owner: row.owner, acquiredAt: row.acquired_at, expiresAt: row.expires_at, fence: row.fence };
}
