import type { IdempotencyStore, RecordedToolOutcome } from '../../spec/idempotency.ts';
import { keyringFor } from '../encryption.ts';
import type { EncryptionOptions, Keyring } from '../encryption.ts';
import { openOutcome, sealOutcome, toolOutcomePlace } from '../idempotency-store.ts';
import { guardedQuery } from './postgres-database.ts';
import { migrationOnce } from './postgres-migrations.ts';
import type { PostgresMigration } from './postgres-migrations.ts';
import { closedStoreError, databaseOf } from './postgres-options.ts';
import type { PostgresStoreTarget } from './postgres-options.ts';
import { fromBytes, toBytes, toNumber } from './postgres-values.ts';

export type PostgresIdempotencyStoreOptions = PostgresStoreTarget & {
  /** Encrypts recorded outputs and error messages at rest; the default and `false` work as for the journal (KEEL_ENCRYPTION_KEY). */
  readonly encryption?: EncryptionOptions | false;
};

/** The idempotency store's handle: the port, and `close` for the pool it may own. */
export interface PostgresIdempotencyStore extends IdempotencyStore {
  close(): Promise<void>;
}

export const postgresIdempotencyMigrations: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'tool outcomes by idempotency key',
    // Output and error message as UTF-8 bytes: a tool's output may hold U+0000, which text refuses. With a key,
    // `output` holds the ciphertext of both together and `error_message` is NULL.
    sql: `CREATE TABLE tool_outcomes (
      idempotency_key text PRIMARY KEY,
      ok boolean NOT NULL,
      output bytea,
      error_code text,
      error_message bytea,
      full_output_blob text,
      recorded_at bigint NOT NULL,
      key_id text
    )`,
  },
];

interface OutcomeRow {
  readonly ok: boolean;
  readonly output: Uint8Array | null;
  readonly error_code: string | null;
  readonly error_message: Uint8Array | null;
  readonly full_output_blob: string | null;
  readonly recorded_at: string | number;
  readonly key_id: string | null;
}

/**
 * Recorded tool outcomes in PostgreSQL, by idempotency key: the first outcome recorded for a key wins, whichever
 * worker records it, so a call re-run after a crash on another host returns it instead of running again.
 */
export function createPostgresIdempotencyStore(options: PostgresIdempotencyStoreOptions): PostgresIdempotencyStore {
  const { database, owned } = databaseOf(options);
  const keyring: Keyring | undefined = keyringFor(options.encryption);
  const ready = migrationOnce(database, 'idempotency', postgresIdempotencyMigrations);
  let closed = false;
  async function guarded<T>(action: string, work: () => Promise<T>): Promise<T> {
    if (closed) throw closedStoreError('idempotency store', database);
    return guardedQuery(database, action, async () => {
      await ready;
      return work();
    });
  }
  const nullableText = (value: Uint8Array | null): string | null => (value === null ? null : fromBytes(value));
  const nullableBytes = (value: string | null): Buffer | null => (value === null ? null : toBytes(value));

  return {
    durable: true,
    async get(key): Promise<RecordedToolOutcome | undefined> {
      const result = await guarded(`reading the recorded outcome ${key}`, () =>
        database.query<OutcomeRow>('SELECT ok, output, error_code, error_message, full_output_blob, recorded_at, key_id FROM tool_outcomes WHERE idempotency_key = $1', [key]),
      );
      const row = result.rows[0];
      if (row === undefined) return undefined;
      const parts = openOutcome(keyring, toolOutcomePlace(database.description, key), {
        output: nullableText(row.output),
        error_message: nullableText(row.error_message),
        key_id: row.key_id,
      });
      return {
        ok: row.ok,
        output: parts.output,
        error: row.error_code === null ? null : { code: row.error_code, message: parts.errorMessage ?? '' },
        fullOutputBlob: row.full_output_blob,
        recordedAt: toNumber(row.recorded_at),
      };
    },
    async put(key, outcome) {
      const sealed = sealOutcome(keyring, toolOutcomePlace(database.description, key), { output: outcome.output, errorMessage: outcome.error?.message ?? null });
      await guarded(`recording the outcome ${key}`, () =>
        database.query(
          `INSERT INTO tool_outcomes (idempotency_key, ok, output, error_code, error_message, full_output_blob, recorded_at, key_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (idempotency_key) DO NOTHING`,
          [key, outcome.ok, nullableBytes(sealed.output), outcome.error?.code ?? null, nullableBytes(sealed.errorMessage), outcome.fullOutputBlob, outcome.recordedAt, sealed.keyId],
        ),
      );
    },
    async close() {
      if (closed) return;
      closed = true;
      if (owned) await database.close();
    },
  };
}
