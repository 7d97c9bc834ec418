import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { isKeelError } from '../../src/errors/index.ts';
import {
  checkDatabase,
  createKeyring,
  createSqliteIdempotencyStore,
  createSqliteJournal,
  createSqliteStore,
  encryptionFromEnvironment,
  keyIdOf,
  reencryptDatabase,
} from '../../src/store/index.ts';
import type { SqliteStoreOptions } from '../../src/store/index.ts';
import { expectKeelError, readAll } from '../../src/testing/contracts/journal.contract.ts';
import { sessionEndBody, sessionStartBody, stampEvents, toolResultBody } from '../../src/testing/contracts/journal-samples.ts';
import { createTemporaryFolders } from './temporary-folder.ts';

const folders = createTemporaryFolders();
afterAll(() => folders.removeAll());

const secret = 'card 4111-1111-1111-1111 belongs to Ada Lovelace';
const blobSecret = 'the whole prompt mentions Ada Lovelace and her card';
const session = stampEvents('ses_a', [sessionStartBody(), toolResultBody(1, 'call_1', secret), sessionEndBody('completed')]);
const outcomeSecret = 'refund issued to Ada Lovelace';
const outcome = { ok: false, output: `partial: ${outcomeSecret}`, error: { code: 'tool-failed', message: `gateway said no to ${outcomeSecret}` }, fullOutputBlob: null, recordedAt: 1 };
const later = stampEvents('ses_a', [toolResultBody(2, 'call_2', 'written after the rotation')], session.length + 1);

function newKey(): Buffer {
  return randomBytes(32);
}

async function writeSample(options: SqliteStoreOptions): Promise<string> {
  const store = createSqliteStore(options);
  try {
    await store.journal.append('ses_a', session, 0);
    const encryption = options.encryption === undefined ? {} : { encryption: options.encryption };
    await createSqliteIdempotencyStore(store.database, options.path, encryption).put('tool_key_1', outcome);
    return await store.blobs.put(blobSecret);
  } finally {
    await store.close();
  }
}

/** Every byte SQLite keeps for the database: the file, and the write-ahead log when one is left. */
function rawBytes(path: string): string {
  const wal = `${path}-wal`;
  return readFileSync(path).toString('latin1') + (existsSync(wal) ? readFileSync(wal).toString('latin1') : '');
}

function storedKeyIds(path: string): (string | null)[] {
  const database = new Database(path, { readonly: true });
  try {
    return database.prepare<[], string | null>('SELECT key_id FROM events ORDER BY seq').pluck().all();
  } finally {
    database.close();
  }
}

describe('encryption at rest', () => {
  it('reads back what it wrote, and leaves no plaintext of event bodies or blobs in the file', async () => {
    const key = newKey();
    const path = folders.databasePath();
    const hash = await writeSample({ path, encryption: { key } });
    const store = createSqliteStore({ path, encryption: { key } });
    try {
      expect(await readAll(store.journal, 'ses_a')).toEqual(session);
      expect(await store.blobs.get(hash)).toBe(blobSecret);
      expect(await createSqliteIdempotencyStore(store.database, path, { encryption: { key } }).get('tool_key_1')).toEqual(outcome);
    } finally {
      await store.close();
    }
    const bytes = rawBytes(path);
    expect(bytes).not.toContain('4111-1111');
    expect(bytes).not.toContain('Ada Lovelace');
    expect(storedKeyIds(path)).toEqual([keyIdOf(key), keyIdOf(key), keyIdOf(key)]);

    // The same writes without a key leave the plaintext readable in the file: the check above can fail.
    const clear = folders.databasePath();
    await writeSample({ path: clear, encryption: false });
    expect(rawBytes(clear)).toContain('4111-1111');
    expect(rawBytes(clear)).toContain('Ada Lovelace');
  });

  it('refuses a wrong or missing key with storage-key-invalid naming the key id it needs, never garbage', async () => {
    const key = newKey();
    const path = folders.databasePath();
    const hash = await writeSample({ path, encryption: { key } });
    for (const encryption of [{ key: newKey() }, false] as const) {
      const store = createSqliteStore({ path, encryption });
      try {
        const error = await expectKeelError(readAll(store.journal, 'ses_a'), 'storage-key-invalid');
        expect(error.message).toContain(keyIdOf(key));
        expect(error.message).toContain('KEEL_ENCRYPTION_KEY');
        expect(error.details).toMatchObject({ neededKeyId: keyIdOf(key) });
        expect((await expectKeelError(store.blobs.get(hash), 'storage-key-invalid')).details).toMatchObject({ neededKeyId: keyIdOf(key) });
        const outcomes = createSqliteIdempotencyStore(store.database, path, { encryption });
        expect((await expectKeelError(outcomes.get('tool_key_1'), 'storage-key-invalid')).details).toMatchObject({ neededKeyId: keyIdOf(key) });
      } finally {
        await store.close();
      }
    }
  });

  it('detects ciphertext that was changed or moved to another event as corrupt', async () => {
    const key = newKey();
    const path = folders.databasePath();
    await writeSample({ path, encryption: { key } });
    const raw = new Database(path);
    const second = raw.prepare<[], string>("SELECT body FROM events WHERE session_id = 'ses_a' AND seq = 2").pluck().get()!;
    // Event 2's valid ciphertext, placed in event 3's row: right key, wrong place.
    raw.prepare('UPDATE events SET body = ? WHERE seq = 3').run(second);
    raw.close();
    const journal = createSqliteJournal({ path, encryption: { key } });
    try {
      const error = await expectKeelError(readAll(journal, 'ses_a'), 'journal-corrupt');
      expect(error.message).toContain('event 3 of session ses_a');
    } finally {
      await journal.close();
    }
  });

  it('keeps records written in clear readable after encryption is turned on', async () => {
    const path = folders.databasePath();
    const hash = await writeSample({ path, encryption: false });
    const store = createSqliteStore({ path, encryption: { key: newKey() } });
    try {
      await store.journal.append('ses_a', later, session.length);
      expect(await readAll(store.journal, 'ses_a')).toEqual([...session, ...later]);
      expect(await store.blobs.get(hash)).toBe(blobSecret);
    } finally {
      await store.close();
    }
    expect(storedKeyIds(path).map((keyId) => keyId !== null)).toEqual([false, false, false, true]);
  });

  it('rotates: old records read with previousKeys, new ones use the new key, re-encryption retires the old key', async () => {
    const oldKey = newKey();
    const newKeyBytes = newKey();
    const path = folders.databasePath();
    const hash = await writeSample({ path, encryption: { key: oldKey } });
    const rotated = createSqliteStore({ path, encryption: { key: newKeyBytes, previousKeys: [oldKey] } });
    try {
      await rotated.journal.append('ses_a', later, session.length);
      expect(await readAll(rotated.journal, 'ses_a')).toEqual([...session, ...later]);
    } finally {
      await rotated.close();
    }
    expect(storedKeyIds(path)).toEqual([keyIdOf(oldKey), keyIdOf(oldKey), keyIdOf(oldKey), keyIdOf(newKeyBytes)]);

    await expect(Promise.resolve().then(() => reencryptDatabase({ path, encryption: { key: newKeyBytes } }))).rejects.toSatisfy((error: unknown) =>
      isKeelError(error, 'storage-key-invalid'),
    );
    const result = reencryptDatabase({ path, encryption: { key: newKeyBytes, previousKeys: [oldKey] } });
    expect(result).toEqual({ events: 3, blobs: 1, toolOutcomes: 1, sessions: 1, keyId: keyIdOf(newKeyBytes) });
    expect(storedKeyIds(path)).toEqual(Array(4).fill(keyIdOf(newKeyBytes)));
    expect(reencryptDatabase({ path, encryption: { key: newKeyBytes } })).toEqual({ events: 0, blobs: 0, toolOutcomes: 0, sessions: 0, keyId: keyIdOf(newKeyBytes) });
    expect(checkDatabase(path)).toMatchObject({ ok: true, events: 4 });

    const store = createSqliteStore({ path, encryption: { key: newKeyBytes } });
    try {
      expect(await readAll(store.journal, 'ses_a')).toEqual([...session, ...later]);
      expect(await store.blobs.get(hash)).toBe(blobSecret);
      expect(await createSqliteIdempotencyStore(store.database, path, { encryption: { key: newKeyBytes } }).get('tool_key_1')).toEqual(outcome);
    } finally {
      await store.close();
    }
  });
});

describe('encryption keys', () => {
  it('accepts 32 bytes as hex or base64, naming the same key the same way', () => {
    const key = newKey();
    const ids = [key, key.toString('hex'), key.toString('base64'), key.toString('base64url')].map((form) => createKeyring({ key: form }).currentKeyId);
    expect(new Set(ids)).toEqual(new Set([keyIdOf(key)]));
  });

  it('rejects a key of the wrong size without echoing it', () => {
    for (const key of ['too-short-secret-value', 'ab'.repeat(31), Buffer.alloc(16)]) {
      let error: unknown;
      try {
        createKeyring({ key });
      } catch (caught) {
        error = caught;
      }
      expect(isKeelError(error, 'storage-key-invalid')).toBe(true);
      if (typeof key === 'string') expect((error as Error).message).not.toContain(key);
    }
  });

  it('reads the current and previous keys from the environment', () => {
    const current = newKey().toString('base64');
    const previous = [newKey().toString('hex'), newKey().toString('base64')];
    expect(encryptionFromEnvironment({})).toBeUndefined();
    expect(encryptionFromEnvironment({ KEEL_ENCRYPTION_KEY: current, KEEL_ENCRYPTION_PREVIOUS_KEYS: ` ${previous.join(' , ')} ` })).toEqual({
      key: current,
      previousKeys: previous,
    });
    expect(() => encryptionFromEnvironment({ KEEL_ENCRYPTION_PREVIOUS_KEYS: previous[0] })).toThrow(/KEEL_ENCRYPTION_KEY/);
  });
});
