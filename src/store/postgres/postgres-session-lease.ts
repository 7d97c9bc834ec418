import { KeelError } from '../../errors/index.ts';
import type { Clock } from '../../spec/clock.ts';
import type { AcquireLeaseRequest, AcquireLeaseResult, SessionLeaseRecord, SessionLeaseStore } from '../../spec/session-lease.ts';
import { checkLeaseParties, checkLeaseRequest } from '../session-lease-rules.ts';
import { guardedQuery } from './postgres-database.ts';
import { migrationOnce } from './postgres-migrations.ts';
import type { PostgresMigration } from './postgres-migrations.ts';
import { closedStoreError, databaseOf } from './postgres-options.ts';
import type { PostgresStoreTarget } from './postgres-options.ts';
import { toNumber } from './postgres-values.ts';

export type PostgresSessionLeaseStoreOptions = PostgresStoreTarget & {
  /**
   * Decides when a lease has expired. Every process sharing the database compares its own clock with the expiry
   * another process wrote, so their clocks must agree to well within the lease's ttl (NTP does).
   */
  readonly clock?: Pick<Clock, 'now'>;
};

export const postgresSessionLeaseMigrations: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'session_leases',
    // A released lease keeps its row, and so its fence: the next holder's fence must be higher than any before it.
    sql: `
      CREATE TABLE session_leases (
        session_id text PRIMARY KEY,
        owner text NOT NULL,
        acquired_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        fence bigint NOT NULL,
        released boolean NOT NULL DEFAULT false
      );
    `,
  },
];

interface LeaseRow {
  readonly session_id: string;
  readonly owner: string;
  readonly acquired_at: string | number;
  readonly expires_at: string | number;
  readonly fence: string | number;
  readonly released: boolean;
}

// The fence and the first-acquired time carry over only when the same owner renews a live lease; any other change
// of hands (a release, an expiry, a new owner) starts a new tenure with a higher fence.
const upsertLease = `
  INSERT INTO session_leases AS lease (session_id, owner, acquired_at, expires_at, fence, released)
    VALUES ($1, $2, $3, $4, 1, false)
  ON CONFLICT (session_id) DO UPDATE SET
    acquired_at = CASE WHEN lease.owner = excluded.owner AND NOT lease.released AND lease.expires_at > $3
                       THEN lease.acquired_at ELSE excluded.acquired_at END,
    fence = CASE WHEN lease.owner = excluded.owner AND NOT lease.released AND lease.expires_at > $3
                 THEN lease.fence ELSE lease.fence + 1 END,
    owner = excluded.owner,
    expires_at = excluded.expires_at,
    released = false
  WHERE lease.released OR lease.expires_at <= $3 OR lease.owner = excluded.owner
  RETURNING *`;

/**
 * Session leases in PostgreSQL. Acquisition locks the session's lease row and runs one conditional upsert in a
 * transaction: of two processes racing for a free or expired lease, exactly one sees its row change, and the
 * other reads back the winner's lease. Every change commits before the call returns.
 */
export function createPostgresSessionLeaseStore(options: PostgresSessionLeaseStoreOptions): SessionLeaseStore {
  const { database, owned } = databaseOf(options);
  const clock = options.clock ?? { now: () => Date.now() };
  const ready = migrationOnce(database, 'session-leases', postgresSessionLeaseMigrations);
  let closed = false;
  async function guarded<T>(action: string, work: () => Promise<T>): Promise<T> {
    if (closed) throw closedStoreError('session lease store', database);
    return guardedQuery(database, action, async () => {
      await ready;
      return work();
    });
  }

  async function acquire(request: AcquireLeaseRequest, now: number): Promise<AcquireLeaseResult> {
    return database.transaction(async (transaction) => {
      const before = await transaction.query<LeaseRow>('SELECT * FROM session_leases WHERE session_id = $1 FOR UPDATE', [request.sessionId]);
      const previous = before.rows[0];
      const changed = await transaction.query<LeaseRow>(upsertLease, [request.sessionId, request.owner, now, now + request.ttlMs]);
      const row = changed.rows[0];
      if (row === undefined) {
        const holder = await transaction.query<LeaseRow>('SELECT * FROM session_leases WHERE session_id = $1', [request.sessionId]);
        if (holder.rows[0] === undefined) throw new KeelError('internal', `The lease on session ${request.sessionId} vanished inside its own transaction.`);
        return { acquired: false, holder: toRecord(holder.rows[0]) };
      }
      const tookOver = previous !== undefined && !previous.released && toNumber(previous.expires_at) <= now && previous.owner !== request.owner;
      return tookOver ? { acquired: true, lease: toRecord(row), tookOverFrom: previous.owner } : { acquired: true, lease: toRecord(row) };
    });
  }

  return {
    async acquire(request) {
      checkLeaseRequest(request);
      const now = clock.now();
      return guarded(`taking the lease on session ${request.sessionId}`, () => acquire(request, now));
    },
    async renew(request) {
      checkLeaseRequest(request);
      const expiresAt = clock.now() + request.ttlMs;
      // An owner whose lease expired may still renew it until someone else takes it over: nobody wrote meanwhile.
      const result = await guarded(`renewing the lease on session ${request.sessionId}`, () =>
        database.query('UPDATE session_leases SET expires_at = $1 WHERE session_id = $2 AND owner = $3 AND NOT released', [expiresAt, request.sessionId, request.owner]),
      );
      return result.rowCount === 1;
    },
    async release(sessionId, owner) {
      checkLeaseParties(sessionId, owner);
      await guarded(`releasing the lease on session ${sessionId}`, () =>
        database.query('UPDATE session_leases SET released = true WHERE session_id = $1 AND owner = $2 AND NOT released', [sessionId, owner]),
      );
    },
    async current(sessionId) {
      const result = await guarded(`reading the lease on session ${sessionId}`, () => database.query<LeaseRow>('SELECT * FROM session_leases WHERE session_id = $1', [sessionId]));
      const row = result.rows[0];
      return row === undefined || row.released ? undefined : toRecord(row);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (owned) await database.close();
    },
  };
}

function toRecord(row: LeaseRow): SessionLeaseRecord {
  return {
    sessionId: row.session_id,
    owner: row.owner,
    acquiredAt: toNumber(row.acquired_at),
    expiresAt: toNumber(row.expires_at),
    fence: toNumber(row.fence),
  };
}
