import type { Clock } from '../../spec/clock.ts';
import type { BlobStore } from '../../spec/journal.ts';
import { sha256 } from '../../util/index.ts';
import { blobPlace, keyringFor, missingKey } from '../encryption.ts';
import type { EncryptionOptions, Keyring } from '../encryption.ts';
import { toWellFormedText } from '../well-formed-text.ts';
import { guardedQuery } from './postgres-database.ts';
import { migrationOnce } from './postgres-migrations.ts';
import type { PostgresMigration } from './postgres-migrations.ts';
import { closedStoreError, databaseOf } from './postgres-options.ts';
import type { PostgresStoreTarget } from './postgres-options.ts';
import { fromBytes, toBytes } from './postgres-values.ts';

export type PostgresBlobStoreOptions = PostgresStoreTarget & {
  /** Stamps `created_at`; defaults to the system clock. */
  readonly clock?: Pick<Clock, 'now'>;
  /** Encrypts blob content at rest; the default and `false` work as for the journal (KEEL_ENCRYPTION_KEY). */
  readonly encryption?: EncryptionOptions | false;
};

export const postgresBlobMigrations: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'blobs',
    // Content is UTF-8 bytes, not text: PostgreSQL's text refuses U+0000, which prompts and tool output may hold.
    // `hash` and `size` are those of the plaintext; `key_id` is NULL for content stored in clear.
    sql: `
      CREATE TABLE blobs (
        hash text PRIMARY KEY,
        content bytea NOT NULL,
        size bigint NOT NULL,
        created_at bigint NOT NULL,
        key_id text
      );
    `,
  },
];

interface BlobRow {
  readonly content: Uint8Array;
  readonly key_id: string | null;
}

/** Content-addressed blobs in PostgreSQL: the first put of a content wins, later ones (from any process) change nothing. */
export function createPostgresBlobStore(options: PostgresBlobStoreOptions): BlobStore {
  const { database, owned } = databaseOf(options);
  const clock = options.clock ?? { now: () => Date.now() };
  const keyring: Keyring | undefined = keyringFor(options.encryption);
  const ready = migrationOnce(database, 'blobs', postgresBlobMigrations);
  let closed = false;
  async function guarded<T>(action: string, work: () => Promise<T>): Promise<T> {
    if (closed) throw closedStoreError('blob store', database);
    return guardedQuery(database, action, async () => {
      await ready;
      return work();
    });
  }
  function contentOf(hash: string, row: BlobRow): string {
    const stored = fromBytes(row.content);
    if (row.key_id === null) return stored;
    const place = blobPlace(database.description, hash);
    if (keyring === undefined) throw missingKey(row.key_id, place, []);
    return keyring.decrypt({ keyId: row.key_id, body: stored }, place);
  }

  return {
    async put(content) {
      const text = toWellFormedText(content);
      const hash = sha256(text);
      const size = Buffer.byteLength(text, 'utf8');
      const stored = keyring === undefined ? { keyId: null, body: text } : keyring.encrypt(text, blobPlace(database.description, hash));
      await guarded(`storing blob ${hash}`, () =>
        database.query('INSERT INTO blobs (hash, content, size, created_at, key_id) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (hash) DO NOTHING', [
          hash,
          toBytes(stored.body),
          size,
          clock.now(),
          stored.keyId,
        ]),
      );
      return hash;
    },
    async get(hash) {
      const result = await guarded(`reading blob ${hash}`, () => database.query<BlobRow>('SELECT content, key_id FROM blobs WHERE hash = $1', [hash]));
      const row = result.rows[0];
      return row === undefined ? undefined : contentOf(hash, row);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (owned) await database.close();
    },
  };
}
