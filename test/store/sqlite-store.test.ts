import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../src/store/index.ts';
import { readAll } from '../../src/testing/contracts/journal.contract.ts';
import { sampleSession } from '../../src/testing/contracts/journal-samples.ts';
import { createTemporaryFolders } from './temporary-folder.ts';

const folders = createTemporaryFolders();
afterAll(() => folders.removeAll());

describe('createSqliteStore', () => {
  it('keeps the journal and the blobs in one database file', async () => {
    const path = folders.databasePath();
    const store = createSqliteStore({ path, clock: { now: () => 42 } });
    await store.journal.append('ses_a', sampleSession('ses_a'), 0);
    const hash = await store.blobs.put('assembled prompt');
    await store.close();

    const raw = new Database(path, { readonly: true });
    expect(raw.prepare('SELECT count(*) AS count FROM events').get()).toEqual({ count: sampleSession('ses_a').length });
    expect(raw.prepare('SELECT hash, size, created_at FROM blobs').get()).toEqual({ hash, size: 16, created_at: 42 });
    raw.close();

    const reopened = createSqliteStore({ path });
    expect(await readAll(reopened.journal, 'ses_a')).toEqual(sampleSession('ses_a'));
    expect(await reopened.blobs.get(hash)).toBe('assembled prompt');
    await reopened.close();
  });

  it('closes the connection once both the journal and the blobs are closed, whichever goes first', async () => {
    const store = createSqliteStore({ path: folders.databasePath() });
    await store.blobs.close();
    expect(store.database.open).toBe(true);
    expect(await store.journal.lastSeq('ses_a')).toBe(0);
    await store.journal.close();
    expect(store.database.open).toBe(false);
    await store.close();
    expect(store.database.open).toBe(false);
  });

  it('does not close the connection early when one of them is closed twice', async () => {
    const store = createSqliteStore({ path: folders.databasePath() });
    await store.journal.close();
    await store.journal.close();
    expect(store.database.open).toBe(true);
    expect(await store.blobs.put('still here')).toMatch(/^[0-9a-f]{64}$/);
    await store.close();
    expect(store.database.open).toBe(false);
  });
});
