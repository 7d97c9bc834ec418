import { KeelError } from '../errors/index.ts';
import type { Clock } from '../spec/clock.ts';
import type { BlobStore } from '../spec/journal.ts';
import { sha256 } from '../util/index.ts';
import { migrate, openSqliteDatabase } from './sqlite-database.ts';
import type { Migration, SqliteDatabase } from './sqlite-database.ts';
import { groupCommitOf } from './sqlite-group-commit.ts';
import { toStorageFailure } from './storage-failure.ts';
import { toWellFormedText } from './well-formed-text.ts';

export type SqliteBlobStoreOptions = (
  | { readonly path: string; readonly busyTimeoutMs?: number }
  /** A database shared with other stores, usually the journal's; the blob store does not close it. */
  | { readonly database: SqliteDatabase }
) & {
  /** Stamps `created_at`; defaults to the system clock. */
  readonly clock?: Pick<Clock, 'now'>;
};

export const blobMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'blobs',
    // A rowid table on purpose: blobs are large, and WITHOUT ROWID suits only small rows.
    sql: `
      CREATE TABLE blobs (
        hash TEXT PRIMARY KEY,
        content TEXT NOT NULL,
        size INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      );
    `,
  },
];

export function createSqliteBlobStore(options: SqliteBlobStoreOptions): BlobStore {
  const ownsDatabase = !('database' in options);
  const database = 'database' in options ? options.database : openSqliteDatabase(options);
  const path = database.name;
  const clock = options.clock ?? { now: () => Date.now() };
  try {
    migrate(database, 'blobs', blobMigrations);
  } catch (error) {
    if (ownsDatabase) database.close();
    throw error;
  }
  // Content addressing makes a second put of the same content a no-op, whichever process wrote first.
  const insert = database.prepare<[string, string, number, number]>('INSERT OR IGNORE INTO blobs (hash, content, size, created_at) VALUES (?, ?, ?, ?)');
  const select = database.prepare<[string], string>('SELECT content FROM blobs WHERE hash = ?').pluck();

  const groupCommit = groupCommitOf(database);
  let closed = false;
  function guarded<T>(action: string, work: () => T): T {
    if (closed) throw new KeelError('storage-failure', `The blob store at ${path} is closed.`, { retryable: false, details: { path } });
    try {
      return work();
    } catch (error) {
      throw toStorageFailure(error, { path, action });
    }
  }

  return {
    async put(content) {
      const text = toWellFormedText(content);
      const hash = sha256(text);
      const size = Buffer.byteLength(text, 'utf8');
      const at = clock.now();
      return guarded(`storing blob ${hash}`, () => {
        // A blob is read only through an event that names it, and that event's append commits the blob with it.
        if (groupCommit === undefined) insert.run(hash, text, size, at);
        else groupCommit.deferred(() => insert.run(hash, text, size, at));
        return hash;
      });
    },
    async get(hash) {
      return guarded(`reading blob ${hash}`, () => select.get(hash));
    },
    async close() {
      if (closed) return;
      closed = true;
      if (ownsDatabase) database.close();
    },
  };
}
