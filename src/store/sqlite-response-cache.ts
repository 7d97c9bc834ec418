import { KeelError } from '../errors/index.ts';
import type { Clock } from '../spec/clock.ts';
import type { CachedModelResponse, ResponseCacheStore } from '../spec/response-cache.ts';
import { migrate, openSqliteDatabase } from './sqlite-database.ts';
import type { Migration, SqliteDatabase } from './sqlite-database.ts';
import { toStorageFailure } from './storage-failure.ts';

export type SqliteResponseCacheOptions = (
  /** Its own database file (created 0600), for a cache shared by the processes of one host. */
  | { readonly path: string; readonly busyTimeoutMs?: number }
  /** A database shared with other stores (the journal's); the cache does not close it. */
  | { readonly database: SqliteDatabase }
) & {
  readonly clock?: Pick<Clock, 'now'>;
  /** Entries kept at most; expired entries go first, then the oldest. Defaults to 10,000. */
  readonly maxEntries?: number;
};

export const responseCacheMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'response_cache',
    sql: `
      CREATE TABLE response_cache (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        stored_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX response_cache_expiry ON response_cache (expires_at);
    `,
  },
];

/**
 * The response cache in SQLite: answers survive a restart and are shared by every process on the file.
 * @example
 * ```ts
 * const planner = withResponseCache(model, { store: createSqliteResponseCache({ path: '.keel/response-cache.db' }) });
 * ```
 */
export function createSqliteResponseCache(options: SqliteResponseCacheOptions): ResponseCacheStore {
  const clock = options.clock ?? { now: () => Date.now() };
  const maxEntries = options.maxEntries ?? 10_000;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new KeelError('invalid-config', `Response cache maxEntries must be a positive integer, got ${maxEntries}.`);
  const ownsDatabase = !('database' in options);
  const database = 'database' in options ? options.database : openSqliteDatabase({ path: options.path, ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }) });
  const path = database.name;
  try {
    migrate(database, 'response-cache', responseCacheMigrations);
  } catch (error) {
    if (ownsDatabase) database.close();
    throw error;
  }
  const select = database.prepare<[string, number], { value: string }>('SELECT value FROM response_cache WHERE key = ? AND expires_at > ?');
  const upsert = database.prepare('INSERT INTO response_cache (key, value, stored_at, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, stored_at = excluded.stored_at, expires_at = excluded.expires_at');
  const expire = database.prepare<[number]>('DELETE FROM response_cache WHERE expires_at <= ?');
  const count = database.prepare<[], { entries: number }>('SELECT count(*) AS entries FROM response_cache');
  const trim = database.prepare<[number]>('DELETE FROM response_cache WHERE key IN (SELECT key FROM response_cache ORDER BY stored_at LIMIT ?)');
  const store = database.transaction((key: string, value: string, now: number, expiresAt: number) => {
    upsert.run(key, value, now, expiresAt);
    expire.run(now);
    const over = (count.get()?.entries ?? 0) - maxEntries;
    if (over > 0) trim.run(over);
  });

  let closed = false;
  function guarded<T>(action: string, work: () => T): T {
    if (closed) throw new KeelError('storage-failure', `The response cache at ${path} is closed.`, { retryable: false, details: { path } });
    try {
      return work();
    } catch (error) {
      throw toStorageFailure(error, { path, action });
    }
  }

  return {
    async get(key) {
      const row = guarded('reading the response cache', () => select.get(key, clock.now()));
      return row === undefined ? undefined : (JSON.parse(row.value) as CachedModelResponse);
    },
    async set(key, value, ttlMs) {
      const now = clock.now();
      guarded('writing the response cache', () => store(key, JSON.stringify(value), now, now + ttlMs));
    },
    async close() {
      if (closed) return;
      closed = true;
      if (ownsDatabase) database.close();
    },
  };
}
