import type { PostgresMigration } from '../store/postgres/index.ts';

/**
 * The run queue's tables, versioned as their own component (`run-queue`) of the database's `schema_migrations`, so
 * they migrate independently of the journal's tables in the same database. Each migration runs once, in order, in
 * one transaction; processes starting together serialise on an advisory lock, so exactly one of them applies it.
 */
export const queueSchemaComponent = 'run-queue';

/** The NOTIFY channel of the queue: a payload is the id of a session that became ready to run. */
export const queueChannel = 'keel_run_queue';

/** The NOTIFY channel of cancel requests: a payload is the id of a session whose run must stop and end `cancelled`. */
export const cancelChannel = 'keel_run_cancel';

/** The NOTIFY channel of journal activity: a payload is the id of a session a worker just journaled events of. */
export const sessionEventsChannel = 'keel_session_events';

export const queueMigrations: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'run queue and claim history',
    sql: `
    CREATE TABLE keel_run_queue (
      session_id text PRIMARY KEY,
      agent text NOT NULL,
      agent_module text,
      task text,
      model text,
      state text NOT NULL CHECK (state IN ('queued', 'claimed', 'waiting-approval', 'done', 'failed')),
      available_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      updated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      attempts integer NOT NULL DEFAULT 0,
      claimed_by text,
      claim_id bigint,
      claim_expires_at timestamptz,
      wake_requested boolean NOT NULL DEFAULT false,
      waiting_sessions text[] NOT NULL DEFAULT '{}',
      result_status text,
      last_error jsonb
    );
    CREATE INDEX keel_run_queue_ready ON keel_run_queue (available_at) WHERE state = 'queued';
    CREATE INDEX keel_run_queue_claimed ON keel_run_queue (claim_expires_at) WHERE state = 'claimed';
    CREATE INDEX keel_run_queue_waiting ON keel_run_queue USING gin (waiting_sessions) WHERE state = 'waiting-approval';
    CREATE TABLE keel_run_claims (
      claim_id bigserial PRIMARY KEY,
      session_id text NOT NULL,
      worker text NOT NULL,
      claimed_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      ended_at timestamptz,
      outcome text
    );
    CREATE INDEX keel_run_claims_session ON keel_run_claims (session_id, claimed_at);
    `,
  },
  {
    version: 2,
    name: 'tenant, priority and budget of a queued session; cancel requests',
    sql: `
    ALTER TABLE keel_run_queue
      ADD COLUMN tenant text,
      ADD COLUMN priority text CHECK (priority IS NULL OR priority IN ('interactive', 'batch')),
      ADD COLUMN budget jsonb,
      ADD COLUMN cancel_requested_at timestamptz,
      ADD COLUMN cancel_reason text;
    `,
  },
];

/** The newest version this code knows. */
export const queueSchemaVersion = queueMigrations.length;
