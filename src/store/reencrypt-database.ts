import { blobPlace, createKeyring, eventPlace } from './encryption.ts';
import type { EncryptionOptions, Keyring } from './encryption.ts';
import { idempotencyMigrations, openOutcome, sealOutcome, toolOutcomePlace } from './idempotency-store.ts';
import { rechainSession } from './journal-chain.ts';
import { blobMigrations } from './sqlite-blob-store.ts';
import { migrate, openSqliteDatabase } from './sqlite-database.ts';
import type { SqliteDatabase } from './sqlite-database.ts';
import { journalMigrations } from './sqlite-journal.ts';
import { toStorageFailure } from './storage-failure.ts';

export interface ReencryptDatabaseOptions {
  readonly path: string;
  /** The new key, and every key records may still be under (and `undefined`-free: plaintext records are encrypted too). */
  readonly encryption: EncryptionOptions;
  readonly busyTimeoutMs?: number;
  /**
   * Rewrite the file afterwards (VACUUM) and empty the -wal file, so the old ciphertext and any plaintext that
   * were replaced do not linger in free pages. Default true; it needs free disk space about the database's size.
   */
  readonly compact?: boolean;
}

export interface ReencryptResult {
  readonly events: number;
  readonly blobs: number;
  readonly toolOutcomes: number;
  readonly sessions: number;
  readonly keyId: string;
}

const blobBatch = 100;

/**
 * Rewrites every event body, blob and recorded tool outcome that is not under the current key (older keys, or stored in clear) with
 * the current key, one session (or one batch of blobs) per transaction, recomputing each rewritten session's
 * hash chain. Safe while sessions run, provided every running process already has the new key; afterwards the
 * previous keys are no longer needed. Running it again finds nothing to do.
 */
export function reencryptDatabase(options: ReencryptDatabaseOptions): ReencryptResult {
  const keyring = createKeyring(options.encryption);
  const database = openSqliteDatabase({ path: options.path, ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }) });
  try {
    migrate(database, 'journal', journalMigrations);
    migrate(database, 'blobs', blobMigrations);
    migrate(database, 'idempotency', idempotencyMigrations);
    const { events, sessions } = reencryptEvents(database, keyring);
    const blobs = reencryptBlobs(database, keyring);
    const toolOutcomes = reencryptToolOutcomes(database, keyring);
    if (options.compact !== false) compact(database);
    return { events, blobs, toolOutcomes, sessions, keyId: keyring.currentKeyId };
  } finally {
    database.close();
  }
}

function reencryptEvents(database: SqliteDatabase, keyring: Keyring): { events: number; sessions: number } {
  const stale = database
    .prepare<[string], string>('SELECT DISTINCT session_id FROM events WHERE key_id IS NULL OR key_id != ? ORDER BY session_id')
    .pluck()
    .all(keyring.currentKeyId);
  let events = 0;
  const path = database.name;
  const rewriteSession = database.transaction((sessionId: string) =>
    rechainSession(database, sessionId, (row) => {
      if (row.key_id === keyring.currentKeyId) return undefined;
      const place = eventPlace(path, sessionId, row.seq);
      const plaintext = row.key_id === null ? row.body : keyring.decrypt({ keyId: row.key_id, body: row.body }, place);
      return keyring.encrypt(plaintext, place);
    }),
  );
  for (const sessionId of stale) {
    events += guarded(database, `re-encrypting session ${sessionId}`, () => rewriteSession.immediate(sessionId));
  }
  return { events, sessions: stale.length };
}

function reencryptBlobs(database: SqliteDatabase, keyring: Keyring): number {
  const path = database.name;
  const select = database.prepare<[string, number], { hash: string; content: string; key_id: string | null }>(
    'SELECT hash, content, key_id FROM blobs WHERE key_id IS NULL OR key_id != ? LIMIT ?',
  );
  const update = database.prepare<[string, string, string]>('UPDATE blobs SET content = ?, key_id = ? WHERE hash = ?');
  const rewriteBatch = database.transaction((): number => {
    const rows = select.all(keyring.currentKeyId, blobBatch);
    for (const row of rows) {
      const place = blobPlace(path, row.hash);
      const plaintext = row.key_id === null ? row.content : keyring.decrypt({ keyId: row.key_id, body: row.content }, place);
      const stored = keyring.encrypt(plaintext, place);
      update.run(stored.body, stored.keyId, row.hash);
    }
    return rows.length;
  });
  let blobs = 0;
  for (;;) {
    const rewritten = guarded(database, 're-encrypting blobs', () => rewriteBatch.immediate());
    blobs += rewritten;
    if (rewritten < blobBatch) return blobs;
  }
}

function reencryptToolOutcomes(database: SqliteDatabase, keyring: Keyring): number {
  const path = database.name;
  const select = database.prepare<[string, number], { idempotency_key: string; output: string | null; error_message: string | null; key_id: string | null }>(
    'SELECT idempotency_key, output, error_message, key_id FROM tool_outcomes WHERE key_id IS NULL OR key_id != ? LIMIT ?',
  );
  const update = database.prepare<[string | null, string | null, string | null, string]>('UPDATE tool_outcomes SET output = ?, error_message = ?, key_id = ? WHERE idempotency_key = ?');
  const rewriteBatch = database.transaction((): number => {
    const rows = select.all(keyring.currentKeyId, blobBatch);
    for (const row of rows) {
      const place = toolOutcomePlace(path, row.idempotency_key);
      const sealed = sealOutcome(keyring, place, openOutcome(keyring, place, row));
      update.run(sealed.output, sealed.errorMessage, sealed.keyId, row.idempotency_key);
    }
    return rows.length;
  });
  let outcomes = 0;
  for (;;) {
    const rewritten = guarded(database, 're-encrypting recorded tool outcomes', () => rewriteBatch.immediate());
    outcomes += rewritten;
    if (rewritten < blobBatch) return outcomes;
  }
}

function compact(database: SqliteDatabase): void {
  guarded(database, 'compacting the database after re-encryption', () => {
    database.exec('VACUUM');
    database.pragma('wal_checkpoint(TRUNCATE)');
  });
}

function guarded<T>(database: SqliteDatabase, action: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw toStorageFailure(error, { path: database.name, action });
  }
}
