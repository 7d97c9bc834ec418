import { KeelError } from '../errors/index.ts';
import type { Clock } from '../spec/clock.ts';
import type { BlobStore } from '../spec/journal.ts';
import { sha256 } from '../util/index.ts';
import { blobPlace, keyringFor, missingKey } from './encryption.ts';
import type { EncryptionOptions, Keyring } from './encryption.ts';
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
  /** Encrypts blob content at rest; the default and `false` work as for the journal (KEEL_ENCRYPTION_KEY). */
  readonly encryption?: EncryptionOptions | false;
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
  {
    version: 2,
    name: 'encryption key ids',
    // NULL for content stored in clear; `hash` and `size` are always those of the plaintext.
    sql: 'ALTER TABLE blobs ADD COLUMN key_id TEXT;',
  },
];

interface BlobRow {
  readonly content: string;
  readonly key_id: string | null;
}


export function createSqliteBlobStore(options: SqliteBlobStoreOptions): BlobStore {
  const ownsDatabase = !('database' in options);
  const database = 'database' in options ? options.database : openSqliteDatabase(options);
  const path = database.name;
  const clock = options.clock ?? { now: () => Date.now() };
  let keyring: Keyring | undefined;
  try {
    keyring = keyringFor(options.encryption);
    migrate(database, 'blobs', blobMigrations);
  } catch (error) {
    if (ownsDatabase) database.close();
    throw error;
  }
  // Content addressing makes a second put of the same content a no-op, whichever process wrote first.
  const insert = database.prepare<[string, string, number, number, string | null]>(
    'INSERT OR IGNORE INTO blobs (hash, content, size, created_at, key_id) VALUES (?, ?, ?, ?, ?)',
  );
  const select = database.prepare<[string], BlobRow>('SELECT content, key_id FROM blobs WHERE hash = ?');
  function contentOf(hash: string, row: BlobRow | undefined): string | undefined {
    if (row === undefined || row.key_id === null) return row?.content;
    const place = blobPlace(path, hash);
    if (keyring === undefined) throw missingKey(row.key_id, place, []);
    return keyring.decrypt({ keyId: row.key_id, body: row.content }, place);
  }

  const groupCommit = groupCommitOf(database);
  /** Blobs put but not yet written (held for the next transaction), by hash. */
  const held = new Map<string, string>();
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
      const stored = keyring === undefined ? { keyId: null, body: text } : keyring.encrypt(text, blobPlace(path, hash));
      return guarded(`storing blob ${hash}`, () => {
        if (groupCommit === undefined) {
          insert.run(hash, stored.body, size, at, stored.keyId);
          return hash;
        }
        // A blob is read only through an event that names it, and that event's append commits the blob with it
        // (held writes run first in the next transaction). Until then reads are answered from memory.
        if (!held.has(hash)) {
          held.set(hash, text);
          groupCommit.held(() => {
            held.delete(hash);
            insert.run(hash, stored.body, size, at, stored.keyId);
          });
        }
        return hash;
      });
    },
    async get(hash) {
      const waiting = held.get(hash);
      if (waiting !== undefined) return waiting;
      const row = guarded(`reading blob ${hash}`, () => select.get(hash));
      return contentOf(hash, row);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (ownsDatabase) database.close();
    },
  };
}
