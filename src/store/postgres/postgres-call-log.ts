import type { Clock } from '../../spec/clock.ts';
import type { CallLogChannel, CallLogStore, StoredCallLogEntry } from '../../spec/call-log.ts';
import { guardedQuery } from './postgres-database.ts';
import { migrationOnce } from './postgres-migrations.ts';
import type { PostgresMigration } from './postgres-migrations.ts';
import { closedStoreError, databaseOf } from './postgres-options.ts';
import type { PostgresStoreTarget } from './postgres-options.ts';
import { fromBytes, toBytes, toNullableNumber, toNumber } from './postgres-values.ts';

export type PostgresCallLogOptions = PostgresStoreTarget & {
  /** Defaults to `audit`. Both channels can share one schema; each store sees only its own. */
  readonly channel?: CallLogChannel;
  /** Stamps `purged_at`; defaults to the system clock. */
  readonly clock?: Pick<Clock, 'now'>;
};

export const postgresCallLogMigrations: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'call_log',
    // Prompt and response as UTF-8 bytes (text refuses U+0000). The partial index finds what retention must erase.
    sql: `
      CREATE TABLE call_log (
        channel text NOT NULL,
        session_id text NOT NULL,
        turn integer NOT NULL,
        response_id text NOT NULL,
        request_hash text NOT NULL,
        at bigint NOT NULL,
        provider text NOT NULL,
        model text NOT NULL,
        input_tokens bigint NOT NULL,
        output_tokens bigint NOT NULL,
        cache_read_tokens bigint NOT NULL,
        cache_write_tokens bigint NOT NULL,
        cost_usd double precision,
        redacted boolean NOT NULL,
        prompt bytea,
        response bytea,
        purged_at bigint,
        PRIMARY KEY (channel, session_id, turn, response_id)
      );
      CREATE INDEX call_log_retention ON call_log (channel, at) WHERE purged_at IS NULL;
    `,
  },
];

interface Row {
  readonly session_id: string;
  readonly turn: number;
  readonly response_id: string;
  readonly request_hash: string;
  readonly at: string | number;
  readonly provider: string;
  readonly model: string;
  readonly input_tokens: string | number;
  readonly output_tokens: string | number;
  readonly cache_read_tokens: string | number;
  readonly cache_write_tokens: string | number;
  readonly cost_usd: number | null;
  readonly redacted: boolean;
  readonly prompt: Uint8Array | null;
  readonly response: Uint8Array | null;
  readonly purged_at: string | number | null;
}

/**
 * The model call log in PostgreSQL. Retention's erasure sets the texts to NULL; PostgreSQL keeps the old row
 * versions until VACUUM reclaims them (autovacuum does, or run `VACUUM call_log` after a large purge), so the
 * erased text lingers on disk until then.
 */
export function createPostgresCallLog(options: PostgresCallLogOptions): CallLogStore {
  const { database, owned } = databaseOf(options);
  const channel = options.channel ?? 'audit';
  const clock = options.clock ?? { now: () => Date.now() };
  const ready = migrationOnce(database, 'call-log', postgresCallLogMigrations);
  let closed = false;
  async function guarded<T>(action: string, work: () => Promise<T>): Promise<T> {
    if (closed) throw closedStoreError(`${channel} call log`, database);
    return guardedQuery(database, action, async () => {
      await ready;
      return work();
    });
  }

  return {
    channel,
    async record(entry) {
      const result = await guarded(`recording the model call of session ${entry.sessionId}, turn ${entry.turn}`, () =>
        database.query(
          `INSERT INTO call_log (channel, session_id, turn, response_id, request_hash, at, provider, model,
             input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, redacted, prompt, response)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
           ON CONFLICT (channel, session_id, turn, response_id) DO NOTHING`,
          [
            channel,
            entry.sessionId,
            entry.turn,
            entry.responseId,
            entry.requestHash,
            entry.at,
            entry.provider,
            entry.model,
            entry.usage.inputTokens,
            entry.usage.outputTokens,
            entry.usage.cacheReadTokens,
            entry.usage.cacheWriteTokens,
            entry.costUsd,
            entry.redacted,
            entry.prompt === null ? null : toBytes(entry.prompt),
            entry.response === null ? null : toBytes(entry.response),
          ],
        ),
      );
      return result.rowCount === 1;
    },
    async read(sessionId) {
      const result = await guarded(`reading the call log of session ${sessionId}`, () =>
        database.query<Row>('SELECT * FROM call_log WHERE channel = $1 AND session_id = $2 ORDER BY turn, at, response_id COLLATE "C"', [channel, sessionId]),
      );
      return result.rows.map(toEntry);
    },
    async purgeOlderThan(cutoff) {
      const result = await guarded('purging call log texts past retention', () =>
        database.query(
          'UPDATE call_log SET prompt = NULL, response = NULL, purged_at = $1 WHERE channel = $2 AND at < $3 AND purged_at IS NULL AND (prompt IS NOT NULL OR response IS NOT NULL)',
          [clock.now(), channel, cutoff],
        ),
      );
      return { purged: result.rowCount };
    },
    async close() {
      if (closed) return;
      closed = true;
      if (owned) await database.close();
    },
  };
}

function toEntry(row: Row): StoredCallLogEntry {
  return {
    sessionId: row.session_id,
    turn: row.turn,
    requestHash: row.request_hash,
    responseId: row.response_id,
    at: toNumber(row.at),
    provider: row.provider,
    model: row.model,
    usage: {
      inputTokens: toNumber(row.input_tokens),
      outputTokens: toNumber(row.output_tokens),
      cacheReadTokens: toNumber(row.cache_read_tokens),
      cacheWriteTokens: toNumber(row.cache_write_tokens),
    },
    costUsd: row.cost_usd,
    prompt: row.prompt === null ? null : fromBytes(row.prompt),
    response: row.response === null ? null : fromBytes(row.response),
    redacted: row.redacted,
    purgedAt: toNullableNumber(row.purged_at),
  };
}
