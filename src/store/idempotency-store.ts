import { keyringFor, missingKey } from './encryption.ts';
import type { EncryptionOptions, Keyring, RecordPlace } from './encryption.ts';
import type { Migration, SqliteDatabase } from './sqlite-database.ts';
import { migrate } from './sqlite-database.ts';
import { groupCommitOf } from './sqlite-group-commit.ts';
import { toStorageFailure } from './storage-failure.ts';

import type { IdempotencyStore, RecordedToolOutcome } from '../spec/idempotency.ts';

export type { IdempotencyStore, RecordedToolOutcome } from '../spec/idempotency.ts';

export function createMemoryIdempotencyStore(): IdempotencyStore {
  const entries = new Map<string, RecordedToolOutcome>();
  return {
    // Gone with the process: a journal that outlives it must get every outcome's event at once (see `durable`).
    durable: false,
    // A copy each way, as a database hands out: a caller changing what it got must not change what is recorded.
    get: async (key) => {
      const outcome = entries.get(key);
      return outcome === undefined ? undefined : structuredClone(outcome);
    },
    put: async (key, outcome) => {
      if (!entries.has(key)) entries.set(key, structuredClone(outcome));
    },
  };
}

export const idempotencyMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'tool outcomes by idempotency key',
    sql: `CREATE TABLE tool_outcomes (
      idempotency_key TEXT PRIMARY KEY,
      ok INTEGER NOT NULL,
      output TEXT,
      error_code TEXT,
      error_message TEXT,
      full_output_blob TEXT,
      recorded_at INTEGER NOT NULL
    ) WITHOUT ROWID`,
  },
  {
    version: 2,
    name: 'encryption key ids',
    // With a key, `output` holds the ciphertext of the output and the error message together, and
    // `error_message` is NULL; `key_id` is NULL for an outcome stored in clear.
    sql: 'ALTER TABLE tool_outcomes ADD COLUMN key_id TEXT;',
  },
];

interface OutcomeRow {
  readonly ok: number;
  readonly output: string | null;
  readonly error_code: string | null;
  readonly error_message: string | null;
  readonly full_output_blob: string | null;
  readonly recorded_at: number;
  readonly key_id: string | null;
}

export interface SqliteIdempotencyStoreOptions {
  /** Encrypts recorded outputs and error messages at rest; the default and `false` work as for the journal (KEEL_ENCRYPTION_KEY). */
  readonly encryption?: EncryptionOptions | false;
}

/** A recorded outcome's place: its idempotency key is bound into the tag. */
export function toolOutcomePlace(path: string, key: string): RecordPlace {
  return { context: `tool-outcome\n${key}`, description: `recorded tool outcome ${key} in ${path}` };
}

interface SensitiveParts {
  readonly output: string | null;
  readonly errorMessage: string | null;
}

/** The columns of an outcome's sensitive parts: in clear, or sealed together in `output`. */
export function sealOutcome(keyring: Keyring | undefined, place: RecordPlace, parts: SensitiveParts): { output: string | null; errorMessage: string | null; keyId: string | null } {
  if (keyring === undefined) return { ...parts, keyId: null };
  const sealed = keyring.encrypt(JSON.stringify(parts), place);
  return { output: sealed.body, errorMessage: null, keyId: sealed.keyId };
}

export function openOutcome(keyring: Keyring | undefined, place: RecordPlace, row: Pick<OutcomeRow, 'output' | 'error_message' | 'key_id'>): SensitiveParts {
  if (row.key_id === null) return { output: row.output, errorMessage: row.error_message };
  if (keyring === undefined) throw missingKey(row.key_id, place, []);
  return JSON.parse(keyring.decrypt({ keyId: row.key_id, body: row.output ?? '' }, place)) as SensitiveParts;
}

export function createSqliteIdempotencyStore(database: SqliteDatabase, path = 'the Keel database', options: SqliteIdempotencyStoreOptions = {}): IdempotencyStore {
  const keyring = keyringFor(options.encryption);
  migrate(database, 'idempotency', idempotencyMigrations);
  const select = database.prepare<[string], OutcomeRow>(
    'SELECT ok, output, error_code, error_message, full_output_blob, recorded_at, key_id FROM tool_outcomes WHERE idempotency_key = ?',
  );
  const groupCommit = groupCommitOf(database);
  const insert = database.prepare(
    'INSERT OR IGNORE INTO tool_outcomes (idempotency_key, ok, output, error_code, error_message, full_output_blob, recorded_at, key_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  return {
    durable: true,
    async get(key) {
      let row: OutcomeRow | undefined;
      try {
        row = select.get(key);
      } catch (error) {
        throw toStorageFailure(error, { path, action: 'read a recorded tool outcome' });
      }
      if (row === undefined) return undefined;
      const parts = openOutcome(keyring, toolOutcomePlace(path, key), row);
      return {
        ok: row.ok === 1,
        output: parts.output,
        error: row.error_code === null ? null : { code: row.error_code, message: parts.errorMessage ?? '' },
        fullOutputBlob: row.full_output_blob,
        recordedAt: row.recorded_at,
      };
    },
    async put(key, outcome) {
      const sealed = sealOutcome(keyring, toolOutcomePlace(path, key), { output: outcome.output, errorMessage: outcome.error?.message ?? null });
      const row = [key, outcome.ok ? 1 : 0, sealed.output, outcome.error?.code ?? null, sealed.errorMessage, outcome.fullOutputBlob, outcome.recordedAt, sealed.keyId];
      try {
        // On disk before the journal hears of the outcome: that window is what the record is for. Its commit takes
        // the writes deferred before it (the call's audit record) along.
        if (groupCommit === undefined) insert.run(...row);
        else groupCommit.durable(() => insert.run(...row));
      } catch (error) {
        throw toStorageFailure(error, { path, action: 'record a tool outcome' });
      }
    },
  };
}
