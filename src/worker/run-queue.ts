import { KeelError } from '../errors/index.ts';
import { migratePostgres, openPostgresDatabase } from '../store/postgres/index.ts';
import type { PostgresDatabase } from '../store/postgres/index.ts';
import { guardedQuery } from '../store/postgres/postgres-database.ts';
import { createId } from '../util/index.ts';
import { queueChannel, queueMigrations, queueSchemaComponent, sessionEventsChannel } from './queue-schema.ts';
import { listenForReadySessions } from './queue-listener.ts';
import type { QueueListener, QueueSubscription } from './queue-listener.ts';
import { claimRecordOf, queuedRunOf, settlementValues } from './queue-rows.ts';
import type { ClaimRecord, ClaimRow, QueuedBudget, QueuedRun, QueueRow, Settlement } from './queue-rows.ts';
import { claimStatement } from './claim-statement.ts';
import { checkBudget, checkPriority, checkTenant, queueCancels } from './queue-cancel.ts';
import type { CancelRequest, ClaimForCancelRequest } from './queue-cancel.ts';

export type { ClaimRecord, QueuedBudget, QueuedRun, QueueState, Settlement } from './queue-rows.ts';
export type { QueueListener, QueueSubscription } from './queue-listener.ts';
export type { CancelRequest, ClaimForCancelRequest } from './queue-cancel.ts';

/** What to run: an agent the workers know by name, and the task of a new session. */
export interface EnqueueRequest {
  /** The agent's name (`defineAgent({ name })`); every worker that may claim the session must have it. */
  readonly agent: string;
  /** The task; the agent's default task when not given. */
  readonly task?: string;
  /** The new session's id; generated when not given. A session already in the queue is refused. */
  readonly sessionId?: string;
  /** The agent's module, recorded in the session so that `keel resume` can load it outside the workers. */
  readonly agentModule?: string;
  /** The model spec the session runs with; else the agent's, else the workers' default. */
  readonly model?: string;
  /** Whose token budget the run spends (`modelLimits.admission.tenantBudget`); the HTTP API records the key's tenant. */
  readonly tenant?: string;
  /** In the model queue, batch runs wait behind interactive ones. Default `interactive`. */
  readonly priority?: 'interactive' | 'batch';
  /** The budget of the session's tree (tokens, cost, wall-clock time from its start). */
  readonly budget?: QueuedBudget;
}

export interface ClaimRequest {
  /** The claiming worker's id. */
  readonly worker: string;
  /** At most this many sessions. */
  readonly limit: number;
  /** The claim lasts this long unless renewed; an expired claim may be taken by another worker. */
  readonly ttlMs: number;
  /**
   * Claims of one session before it is given up: a ready row already claimed this often (its last claims expired or
   * failed) is settled `failed` instead of claimed again. Default 5.
   */
  readonly maxAttempts?: number;
}

/** The run queue in PostgreSQL: sessions waiting to be started or resumed by a worker. */
export interface RunQueue {
  /** Creates or upgrades the queue's tables; every other method does it first, once. */
  migrate(): Promise<void>;
  /** Puts a new session in the queue and wakes a listening worker. */
  enqueue(request: EnqueueRequest): Promise<{ readonly sessionId: string }>;
  /**
   * Queues an existing session to be resumed from its journal (an interrupted session, or one whose run failed for
   * good). A session already queued or running stays as it is; `queued` says whether this call queued it.
   */
  enqueueResume(request: { readonly sessionId: string; readonly agent: string }): Promise<{ readonly sessionId: string; readonly queued: boolean }>;
  /**
   * Wakes the session waiting on `sessionId`'s approval, once a decision has been journaled: the session itself,
   * or the root session whose child waits. A session still being finished by its worker is requeued when it is.
   * Returns the ids of the queued sessions it woke or marked.
   */
  wake(sessionId: string): Promise<readonly string[]>;
  /** The queue's row of a session, or undefined when it was never queued. */
  status(sessionId: string): Promise<QueuedRun | undefined>;
  /**
   * Claims up to `limit` ready sessions, oldest first, skipping rows other workers hold locked (`FOR UPDATE SKIP LOCKED`).
   * Ready rows that `enqueue` would have refused (written to the table directly: a task over its size cap, a malformed
   * session id or agent name, an oversized model spec) or that used up their attempts are settled `failed` first, with
   * the reason in `lastError`, judged on their sizes alone so that an oversized row is never loaded.
   */
  claim(request: ClaimRequest): Promise<readonly QueuedRun[]>;
  /** Extends this worker's claims; returns the claim ids it still holds (the others expired and were taken over). */
  renew(request: { readonly worker: string; readonly claimIds: readonly number[]; readonly ttlMs: number }): Promise<ReadonlySet<number>>;
  /** Records how a claimed run ended and gives up the claim; false when the claim had been lost meanwhile. */
  settle(claim: { readonly sessionId: string; readonly claimId: number }, settlement: Settlement): Promise<boolean>;
  /** Sessions waiting for approval, least recently checked first; each call marks them checked. */
  waitingForApproval(limit: number): Promise<readonly QueuedRun[]>;
  /** The claim history (who held which session when), of one session or of all, oldest first. */
  claims(sessionId?: string): Promise<readonly ClaimRecord[]>;
  /**
   * Records a request to cancel a queued or running session and announces it (NOTIFY): the worker holding it aborts
   * the run (its model call and tools stop, compensations run, it ends `cancelled`); a session no worker holds is made
   * ready, so the next claim runs it already cancelled (a session never started ends without a model call). Returns
   * the row, or undefined when the session is not in the queue or has ended (`done`).
   */
  requestCancel(request: CancelRequest): Promise<QueuedRun | undefined>;
  /**
   * Claims one session whose cancel was requested, when no live claim holds it, for a process that ends it itself
   * (the HTTP server, so that a cancel needs no free worker). Undefined when a worker holds it or it ended.
   */
  claimForCancel(request: ClaimForCancelRequest): Promise<QueuedRun | undefined>;
  /** Which of these sessions have a cancel request (a worker's fallback for a lost notification). */
  cancelRequested(sessionIds: readonly string[]): Promise<ReadonlySet<string>>;
  /** Announces that events of `sessionId` were journaled (NOTIFY), so that event streams read them at once. */
  notifySessionEvents(sessionId: string): Promise<void>;
  /** Calls `onReady` with a session id whenever one becomes ready (LISTEN/NOTIFY); reconnects after a lost connection. */
  listen(onReady: (sessionId: string) => void): Promise<QueueListener>;
  /** LISTENs for ready sessions, cancel requests and journal activity on one connection of its own; reconnects after a lost one. */
  subscribe(subscription: QueueSubscription): Promise<QueueListener>;
  close(): Promise<void>;
}

export type RunQueueOptions =
  | {
      /** `postgres://user:password@host:5432/database` (KEEL_DATABASE_URL). */
      readonly url: string;
      /** The schema of the queue's tables; default `public`. */
      readonly schema?: string;
      /** Connections in the queue's pool; default 4. */
      readonly maxConnections?: number;
    }
  | {
      /** A database opened by the caller (shared with the PostgreSQL stores); left open by `close`. */
      readonly database: PostgresDatabase;
      /** Its URL, for LISTEN on a connection of its own; without it `listen` is refused and workers poll. */
      readonly url?: string;
    };

const maxTaskBytes = 1 << 20;
const maxModelSpecBytes = 2000;
const defaultMaxAttempts = 5;
const sessionIdPattern = /^[A-Za-z0-9_.:-]{1,200}$/;

/**
 * Why a ready row must not be claimed, or NULL. Sizes come first and are read with octet_length, which PostgreSQL
 * answers from the stored length without loading the value, so a 20 MB task costs nothing to refuse.
 */
function invalidRowReason(maxTask: string): string {
  return `(CASE
    WHEN octet_length(task) > ${maxTask} THEN 'The queued task is ' || octet_length(task) || ' bytes; a task may have at most ' || ${maxTask} || ' bytes (enqueue refuses larger ones, so this row was written to the table directly).'
    WHEN octet_length(agent) > 800 OR char_length(agent) > 200 OR btrim(agent) = '' THEN 'The queued agent name must be 1 to 200 characters.'
    WHEN octet_length(model) > ${maxModelSpecBytes} THEN 'The queued model spec is ' || octet_length(model) || ' bytes; a model spec may have at most ${maxModelSpecBytes}.'
    WHEN octet_length(agent_module) > 4096 THEN 'The queued agent module path is longer than 4096 bytes.'
    WHEN octet_length(tenant) > 200 THEN 'The queued tenant is longer than 200 bytes.'
    WHEN pg_column_size(budget) > 1000 THEN 'The queued budget is larger than 1000 bytes.'
    WHEN session_id !~ '^[A-Za-z0-9_.:-]{1,200}$' THEN 'A session id is 1 to 200 letters, digits and . _ : -; this queued row''s id is not.'
  END)`;
}

/**
 * Settles `failed` the ready rows that must not be claimed: invalid ones as `invalid-argument`, and those claimed
 * `maxAttempts` times already (claims that expired, such as a worker's that could not renew, count too) with their
 * last error kept. An expired claim's history is closed as `expired`.
 */
const failUnclaimableSql = `
  WITH bad AS (
    SELECT session_id, claim_id AS previous_claim, claim_expires_at AS previous_expiry, state AS previous_state, attempts, last_error,
      ${invalidRowReason('$2')} AS reason
    FROM keel_run_queue
    WHERE ((state = 'queued' AND available_at <= clock_timestamp()) OR (state = 'claimed' AND claim_expires_at < clock_timestamp()))
      AND (${invalidRowReason('$2')} IS NOT NULL OR attempts >= $1)
    LIMIT 100
    FOR UPDATE SKIP LOCKED
  ), expired AS (
    UPDATE keel_run_claims c SET ended_at = b.previous_expiry, outcome = 'expired'
    FROM bad b WHERE b.previous_state = 'claimed' AND c.claim_id = b.previous_claim AND c.ended_at IS NULL
  )
  UPDATE keel_run_queue q SET state = 'failed',
    last_error = CASE WHEN b.reason IS NOT NULL THEN jsonb_build_object('code', 'invalid-argument', 'message', b.reason)
      ELSE jsonb_build_object('code', COALESCE(b.last_error->>'code', 'session-busy'), 'message',
        'Given up after ' || b.attempts || ' claims (the limit is ' || $1 || ') that ended neither in a result nor in a wait for approval: '
        || COALESCE('the last error was: ' || left(b.last_error->>'message', 2000), 'each claim expired before its worker settled it (the worker died or could not renew its claim in time).'))
    END,
    claimed_by = NULL, claim_expires_at = NULL, wake_requested = false, updated_at = clock_timestamp()
  FROM bad b WHERE q.session_id = b.session_id`;

/**
 * Opens the run queue. Connections are made on first use.
 * @example
 * ```ts
 * const queue = createRunQueue({ url: process.env.KEEL_DATABASE_URL! });
 * const { sessionId } = await queue.enqueue({ agent: 'support', task: 'Where is order 1042?' });
 * ```
 */
export function createRunQueue(options: RunQueueOptions): RunQueue {
  const owned = !('database' in options);
  const database = 'database' in options ? options.database : openPostgresDatabase({ url: options.url, maxConnections: options.maxConnections ?? 4, ...(options.schema === undefined ? {} : { schema: options.schema }) });
  const url = options.url;
  let migrated: Promise<void> | undefined;
  const migrate = (): Promise<void> =>
    (migrated ??= migratePostgres(database, queueSchemaComponent, queueMigrations).then(() => undefined, (error: unknown) => {
      migrated = undefined;
      throw error;
    }));
  const run = async <T>(action: string, work: () => Promise<T>): Promise<T> => {
    await migrate();
    return guardedQuery(database, action, work);
  };
  const notify = (sessionId: string) => database.query('SELECT pg_notify($1, $2)', [queueChannel, sessionId]);
  const cancels = queueCancels(database, notify);

  return {
    migrate,
    enqueue: (request) =>
      run('enqueueing a session', async () => {
        const sessionId = checkEnqueue(request);
        const inserted = await database.query(
          `INSERT INTO keel_run_queue (session_id, agent, agent_module, task, model, tenant, priority, budget, state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, 'queued')
           ON CONFLICT (session_id) DO NOTHING`,
          [sessionId, request.agent, request.agentModule ?? null, request.task ?? null, request.model ?? null, request.tenant ?? null, request.priority ?? null, request.budget === undefined ? null : JSON.stringify(request.budget)],
        );
        if (inserted.rowCount === 0) throw new KeelError('invalid-argument', `Session ${sessionId} is already in the run queue; queue a resume with enqueueResume, or choose another session id.`, { details: { sessionId } });
        await notify(sessionId);
        return { sessionId };
      }),
    enqueueResume: (request) =>
      run(`queueing session ${request.sessionId} for resume`, async () => {
        checkSessionId(request.sessionId);
        checkAgentName(request.agent);
        const result = await database.query(
          `INSERT INTO keel_run_queue (session_id, agent, state) VALUES ($1, $2, 'queued')
           ON CONFLICT (session_id) DO UPDATE SET state = 'queued', agent = EXCLUDED.agent, attempts = 0, available_at = clock_timestamp(),
             updated_at = clock_timestamp(), last_error = NULL, wake_requested = false
           WHERE keel_run_queue.state IN ('failed', 'waiting-approval')`,
          [request.sessionId, request.agent],
        );
        if (result.rowCount > 0) await notify(request.sessionId);
        return { sessionId: request.sessionId, queued: result.rowCount > 0 };
      }),
    wake: (sessionId) =>
      run(`waking the run of session ${sessionId}`, async () => {
        checkSessionId(sessionId);
        const woken = await database.query<{ session_id: string; state: string }>(
          `UPDATE keel_run_queue SET
             state = CASE WHEN state = 'waiting-approval' THEN 'queued' ELSE state END,
             wake_requested = (state = 'claimed'),
             available_at = CASE WHEN state = 'waiting-approval' THEN clock_timestamp() ELSE available_at END,
             updated_at = clock_timestamp()
           WHERE (session_id = $1 OR waiting_sessions @> ARRAY[$1]::text[]) AND state IN ('waiting-approval', 'claimed')
           RETURNING session_id, state`,
          [sessionId],
        );
        for (const row of woken.rows) if (row.state === 'queued') await notify(row.session_id);
        return woken.rows.map((row) => row.session_id);
      }),
    status: (sessionId) =>
      run(`reading the queue row of session ${sessionId}`, async () => {
        const found = await database.query<QueueRow>('SELECT * FROM keel_run_queue WHERE session_id = $1', [sessionId]);
        const row = found.rows[0];
        return row === undefined ? undefined : queuedRunOf(row);
      }),
    claim: (request) =>
      run('claiming sessions', async () => {
        checkClaim(request);
        const maxAttempts = request.maxAttempts ?? defaultMaxAttempts;
        await database.query(failUnclaimableSql, [maxAttempts, maxTaskBytes]);
        const claimed = await database.query<QueueRow>(
          claimStatement({
            picked: `
             SELECT session_id, claim_id AS previous_claim, claim_expires_at AS previous_expiry, state AS previous_state
             FROM keel_run_queue
             WHERE ((state = 'queued' AND available_at <= clock_timestamp()) OR (state = 'claimed' AND claim_expires_at < clock_timestamp()))
               AND ${invalidRowReason('$5')} IS NULL AND attempts < $4
             ORDER BY available_at
             LIMIT $2
             FOR UPDATE SKIP LOCKED`,
            worker: '$1',
            ttlMs: '$3',
          }),
          [request.worker, request.limit, request.ttlMs, maxAttempts, maxTaskBytes],
        );
        return claimed.rows.map(queuedRunOf).sort((left, right) => left.availableAt - right.availableAt);
      }),
    renew: (request) =>
      run('renewing claims', async () => {
        if (request.claimIds.length === 0) return new Set<number>();
        const renewed = await database.query<{ claim_id: string }>(
          `WITH renewed AS (
             UPDATE keel_run_queue SET claim_expires_at = clock_timestamp() + make_interval(secs => $3::double precision / 1000)
             WHERE claimed_by = $1 AND state = 'claimed' AND claim_id = ANY($2::bigint[]) AND claim_expires_at >= clock_timestamp()
             RETURNING claim_id, claim_expires_at
           ), history AS (
             UPDATE keel_run_claims c SET expires_at = r.claim_expires_at FROM renewed r WHERE c.claim_id = r.claim_id
           )
           SELECT claim_id FROM renewed`,
          [request.worker, request.claimIds, request.ttlMs],
        );
        return new Set(renewed.rows.map((row) => Number(row.claim_id)));
      }),
    settle: (claim, settlement) =>
      run(`settling the run of session ${claim.sessionId}`, async () => {
        const values = settlementValues(settlement);
        const settled = await database.query<{ state: string }>(
          `WITH settled AS (
             UPDATE keel_run_queue SET
               state = CASE WHEN $3::text = 'waiting-approval' AND wake_requested THEN 'queued' ELSE $3::text END,
               available_at = clock_timestamp() + make_interval(secs => $4::double precision / 1000),
               result_status = $5, last_error = $6::jsonb, waiting_sessions = $7::text[],
               attempts = CASE WHEN $8::boolean THEN 0 ELSE attempts END,
               wake_requested = false, claimed_by = NULL, claim_expires_at = NULL, updated_at = clock_timestamp()
             WHERE session_id = $1 AND claim_id = $2 AND state = 'claimed'
             RETURNING state
           ), history AS (
             UPDATE keel_run_claims SET ended_at = clock_timestamp(), outcome = $9 WHERE claim_id = $2 AND ended_at IS NULL
           )
           SELECT state FROM settled`,
          [claim.sessionId, claim.claimId, values.state, values.delayMs, values.resultStatus, values.error, values.waitingSessions, values.resetAttempts, values.outcome],
        );
        const state = settled.rows[0]?.state;
        if (state === 'queued') await notify(claim.sessionId);
        return state !== undefined;
      }),
    waitingForApproval: (limit) =>
      run('listing sessions waiting for approval', async () => {
        const rows = await database.query<QueueRow>(
          `WITH picked AS (
             SELECT session_id FROM keel_run_queue WHERE state = 'waiting-approval' ORDER BY updated_at LIMIT $1 FOR UPDATE SKIP LOCKED
           )
           UPDATE keel_run_queue q SET updated_at = clock_timestamp() FROM picked WHERE q.session_id = picked.session_id AND q.state = 'waiting-approval'
           RETURNING q.*`,
          [Math.max(1, Math.min(1000, Math.floor(limit)))],
        );
        return rows.rows.map(queuedRunOf);
      }),
    claims: (sessionId) =>
      run('reading the claim history', async () => {
        const rows = sessionId === undefined
          ? await database.query<ClaimRow>('SELECT * FROM keel_run_claims ORDER BY claim_id')
          : await database.query<ClaimRow>('SELECT * FROM keel_run_claims WHERE session_id = $1 ORDER BY claim_id', [sessionId]);
        return rows.rows.map(claimRecordOf);
      }),
    requestCancel: (request) => run(`requesting the cancel of session ${request.sessionId}`, () => cancels.request(request)),
    claimForCancel: (request) => run(`claiming session ${request.sessionId} to cancel it`, () => cancels.claim(request)),
    cancelRequested: (sessionIds) => run('reading cancel requests', () => cancels.requested(sessionIds)),
    notifySessionEvents: (sessionId) =>
      run(`announcing events of session ${sessionId}`, async () => {
        await database.query('SELECT pg_notify($1, $2)', [sessionEventsChannel, sessionId]);
      }),
    listen(onReady) {
      return this.subscribe({ onReady });
    },
    async subscribe(subscription) {
      if (url === undefined) throw new KeelError('invalid-config', 'The run queue was opened on a database without its URL, so it cannot LISTEN for ready sessions; pass url to createRunQueue (workers then poll only).');
      await migrate();
      return listenForReadySessions({ url, subscription });
    },
    async close() {
      if (owned) await database.close();
    },
  };
}

function checkEnqueue(request: EnqueueRequest): string {
  checkAgentName(request.agent);
  if (request.tenant !== undefined) checkTenant(request.tenant);
  if (request.priority !== undefined) checkPriority(request.priority);
  if (request.budget !== undefined) checkBudget(request.budget);
  if (request.task !== undefined && (typeof request.task !== 'string' || Buffer.byteLength(request.task) > maxTaskBytes)) {
    throw new KeelError('invalid-argument', `A queued session's task must be a string of at most ${maxTaskBytes} bytes.`);
  }
  const sessionId = request.sessionId ?? createId('ses');
  checkSessionId(sessionId);
  return sessionId;
}

function checkAgentName(agent: unknown): void {
  if (typeof agent !== 'string' || agent.trim() === '' || agent.length > 200) {
    throw new KeelError('invalid-argument', 'A queued session needs the name of its agent (1 to 200 characters), as the workers know it.');
  }
}

function checkSessionId(sessionId: unknown): void {
  if (typeof sessionId !== 'string' || !sessionIdPattern.test(sessionId)) {
    throw new KeelError('invalid-argument', `A session id is 1 to 200 letters, digits and . _ : -, got ${JSON.stringify(String(sessionId).slice(0, 80))}.`);
  }
}

function checkClaim(request: ClaimRequest): void {
  if (typeof request.worker !== 'string' || request.worker === '') throw new KeelError('invalid-argument', 'A claim needs the worker id.');
  if (!(Number.isInteger(request.limit) && request.limit >= 1 && request.limit <= 10_000)) throw new KeelError('invalid-argument', `A claim's limit must be 1 to 10000, got ${request.limit}.`);
  if (!(Number.isInteger(request.ttlMs) && request.ttlMs >= 100)) throw new KeelError('invalid-argument', `A claim's ttlMs must be at least 100, got ${request.ttlMs}.`);
  if (request.maxAttempts !== undefined && !(Number.isInteger(request.maxAttempts) && request.maxAttempts >= 1)) {
    throw new KeelError('invalid-argument', `A claim's maxAttempts must be an integer of at least 1, got ${request.maxAttempts}.`);
  }
}
