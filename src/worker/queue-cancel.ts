import { KeelError } from '../errors/index.ts';
import type { PostgresDatabase } from '../store/postgres/index.ts';
import { claimStatement } from './claim-statement.ts';
import { cancelChannel } from './queue-schema.ts';
import { queuedRunOf } from './queue-rows.ts';
import type { QueuedBudget, QueuedRun, QueueRow } from './queue-rows.ts';

/** A request to cancel a queued or running session. */
export interface CancelRequest {
  readonly sessionId: string;
  /** Why, for the person who reads the row (the session's journal records its own cancellation). */
  readonly reason: string;
}

/** A claim of one session whose cancel was requested, by a process that ends it itself. */
export interface ClaimForCancelRequest {
  readonly sessionId: string;
  /** The claiming process's id, as a worker's in the claim history. */
  readonly worker: string;
  /** The claim lasts this long; if the claimer dies, a worker takes the session and ends it `cancelled`. */
  readonly ttlMs: number;
}

const maxReasonLength = 2000;
const tenantPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * Marks the cancel. A session no live claim holds (queued, waiting for approval, given up, or held by a claim that
 * expired) becomes ready at once with its attempts reset, so whichever process claims it next runs it already
 * cancelled: nothing depends on the process that asked.
 */
const requestSql = `
  UPDATE keel_run_queue SET
    cancel_requested_at = COALESCE(cancel_requested_at, clock_timestamp()),
    cancel_reason = COALESCE(cancel_reason, $2),
    state = CASE WHEN state IN ('waiting-approval', 'failed') THEN 'queued' ELSE state END,
    available_at = CASE WHEN state IN ('waiting-approval', 'failed', 'queued') THEN clock_timestamp() ELSE available_at END,
    attempts = CASE WHEN state = 'claimed' THEN attempts ELSE 0 END,
    wake_requested = false,
    updated_at = clock_timestamp()
  WHERE session_id = $1 AND state <> 'done'
  RETURNING *`;

const claimSql = claimStatement({
  picked: `
    SELECT session_id, claim_id AS previous_claim, claim_expires_at AS previous_expiry, state AS previous_state
    FROM keel_run_queue
    WHERE session_id = $1 AND cancel_requested_at IS NOT NULL
      AND (state = 'queued' OR (state = 'claimed' AND claim_expires_at < clock_timestamp()))
    FOR UPDATE SKIP LOCKED`,
  worker: '$2',
  ttlMs: '$3',
});

/** The cancel requests of the run queue, on its database; `notify` wakes workers for a session made ready. */
export function queueCancels(database: PostgresDatabase, notify: (sessionId: string) => Promise<unknown>) {
  return {
    async request(request: CancelRequest): Promise<QueuedRun | undefined> {
      checkSessionIdShape(request.sessionId);
      const reason = String(request.reason).slice(0, maxReasonLength);
      const marked = await database.query<QueueRow>(requestSql, [request.sessionId, reason]);
      const row = marked.rows[0];
      if (row === undefined) return undefined;
      await database.query('SELECT pg_notify($1, $2)', [cancelChannel, request.sessionId]);
      if (row.state === 'queued') await notify(request.sessionId);
      return queuedRunOf(row);
    },
    async claim(request: ClaimForCancelRequest): Promise<QueuedRun | undefined> {
      checkSessionIdShape(request.sessionId);
      if (typeof request.worker !== 'string' || request.worker === '') throw new KeelError('invalid-argument', 'A claim needs the claimer id.');
      if (!(Number.isInteger(request.ttlMs) && request.ttlMs >= 100)) throw new KeelError('invalid-argument', `A claim's ttlMs must be at least 100, got ${request.ttlMs}.`);
      const claimed = await database.query<QueueRow>(claimSql, [request.sessionId, request.worker, request.ttlMs]);
      const row = claimed.rows[0];
      return row === undefined ? undefined : queuedRunOf(row);
    },
    async requested(sessionIds: readonly string[]): Promise<ReadonlySet<string>> {
      if (sessionIds.length === 0) return new Set<string>();
      const rows = await database.query<{ session_id: string }>(
        'SELECT session_id FROM keel_run_queue WHERE session_id = ANY($1::text[]) AND cancel_requested_at IS NOT NULL',
        [sessionIds],
      );
      return new Set(rows.rows.map((row) => row.session_id));
    },
  };
}

function checkSessionIdShape(sessionId: unknown): void {
  if (typeof sessionId !== 'string' || !/^[A-Za-z0-9_.:-]{1,200}$/.test(sessionId)) {
    throw new KeelError('invalid-argument', `A session id is 1 to 200 letters, digits and . _ : -, got ${JSON.stringify(String(sessionId).slice(0, 80))}.`);
  }
}

export function checkTenant(tenant: unknown): void {
  if (typeof tenant !== 'string' || !tenantPattern.test(tenant)) {
    throw new KeelError('invalid-argument', 'A queued session\'s tenant is 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit.');
  }
}

export function checkPriority(priority: unknown): void {
  if (priority !== 'interactive' && priority !== 'batch') throw new KeelError('invalid-argument', `A queued session's priority is "interactive" or "batch", got ${JSON.stringify(String(priority).slice(0, 40))}.`);
}

export function checkBudget(budget: QueuedBudget): void {
  if (typeof budget !== 'object' || budget === null) throw new KeelError('invalid-argument', 'A queued session\'s budget is an object of tokens, costUsd and timeMs.');
  for (const [name, value] of Object.entries(budget)) {
    if (!['tokens', 'costUsd', 'timeMs'].includes(name)) throw new KeelError('invalid-argument', `A queued session's budget takes tokens, costUsd and timeMs, not "${name.slice(0, 40)}".`);
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value > 0)) throw new KeelError('invalid-argument', `A queued session's budget.${name} must be a positive number.`);
  }
}
