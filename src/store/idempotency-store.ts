import type { Migration, SqliteDatabase } from './sqlite-database.ts';
import { migrate } from './sqlite-database.ts';
import { groupCommitOf } from './sqlite-group-commit.ts';
import { toStorageFailure } from './storage-failure.ts';

import type { IdempotencyStore, RecordedToolOutcome } from '../spec/idempotency.ts';

export type { IdempotencyStore, RecordedToolOutcome } from '../spec/idempotency.ts';

export function createMemoryIdempotencyStore(): IdempotencyStore {
  const entries = new Map<string, RecordedToolOutcome>();
  return {
    get: async (key) => entries.get(key),
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
];

export function createSqliteIdempotencyStore(database: SqliteDatabase, path = 'the Keel database'): IdempotencyStore {
  migrate(database, 'idempotency', idempotencyMigrations);
  const select = database.prepare('SELECT ok, output, error_code, error_message, full_output_blob, recorded_at FROM tool_outcomes WHERE idempotency_key = ?');
  const groupCommit = groupCommitOf(database);
  const insert = database.prepare('INSERT OR IGNORE INTO tool_outcomes (idempotency_key, ok, output, error_code, error_message, full_output_blob, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
  return {
    async get(key) {
      try {
        const row = select.get(key) as { ok: number; output: string | null; error_code: string | null; error_message: string | null; full_output_blob: string | null; recorded_at: number } | undefined;
        if (row === undefined) return undefined;
        return {
          ok: row.ok === 1,
          output: row.output,
          error: row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? '' },
          fullOutputBlob: row.full_output_blob,
          recordedAt: row.recorded_at,
        };
      } catch (error) {
        throw toStorageFailure(error, { path, action: 'read a recorded tool outcome' });
      }
    },
    async put(key, outcome) {
      const row = [key, outcome.ok ? 1 : 0, outcome.output, outcome.error?.code ?? null, outcome.error?.message ?? null, outcome.fullOutputBlob, outcome.recordedAt];
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
