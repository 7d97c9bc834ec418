import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteAuditLog, createSqliteIdempotencyStore, createSqliteStore } from '../../src/store/index.ts';
import type { SqliteStore } from '../../src/store/index.ts';
import { readAll } from '../../src/testing/contracts/journal.contract.ts';
import { sampleSession } from '../../src/testing/contracts/journal-samples.ts';
import { sampleEntry } from '../audit/audit-samples.ts';
import { createTemporaryFolders } from './temporary-folder.ts';

const folders = createTemporaryFolders();
afterAll(() => folders.removeAll());

/** What another connection (another process, or a crash followed by a restart) sees on disk. */
function committed(path: string): { blobs: number; events: number; outcomes: number; audit: number } {
  const raw = new Database(path, { readonly: true });
  try {
    const count = (table: string): number => (raw.prepare(`SELECT count(*) AS count FROM ${table}`).get() as { count: number }).count;
    return { blobs: count('blobs'), events: count('events'), outcomes: count('tool_outcomes'), audit: count('audit_records') };
  } finally {
    raw.close();
  }
}

function openStore(path: string): { store: SqliteStore; audit: ReturnType<typeof createSqliteAuditLog>; outcomes: ReturnType<typeof createSqliteIdempotencyStore> } {
  const store = createSqliteStore({ path });
  return { store, audit: createSqliteAuditLog({ database: store.database }), outcomes: createSqliteIdempotencyStore(store.database, path) };
}

const outcome = { ok: true, output: 'done', error: null, fullOutputBlob: null, recordedAt: 1 };
const nextTurnOfTheEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('group commit of the stores sharing one SQLite connection', () => {
  it('commits blobs and audit records with the next journal append', async () => {
    const path = folders.databasePath();
    const { store, audit } = openStore(path);
    const events = sampleSession('ses_a');
    const hash = await store.blobs.put('the assembled prompt');
    const record = await audit.append(sampleEntry(0));
    // Readable at once through the same connection, not yet on disk.
    expect(await store.blobs.get(hash)).toBe('the assembled prompt');
    expect(record.seq).toBe(1);
    expect(committed(path)).toEqual({ blobs: 0, events: 0, outcomes: 0, audit: 0 });

    await store.journal.append('ses_a', events, 0);
    expect(committed(path)).toEqual({ blobs: 1, events: events.length, outcomes: 0, audit: 1 });
    await store.close();
  });

  it('commits an idempotency record before returning, with the writes deferred before it', async () => {
    const path = folders.databasePath();
    const { store, audit, outcomes } = openStore(path);
    await audit.append(sampleEntry(0));
    expect(committed(path).audit).toBe(0);
    // The record exists for a crash between the tool's return and the journal's tool-result: it cannot wait for that append.
    await outcomes.put('idem_1', outcome);
    expect(committed(path)).toMatchObject({ outcomes: 1, audit: 1 });
    expect(await outcomes.get('idem_1')).toEqual(outcome);
    await store.close();
  });

  it('commits deferred writes by themselves within the turn of the event loop when no append follows, and on close', async () => {
    const path = folders.databasePath();
    const { store } = openStore(path);
    await store.blobs.put('alone');
    await nextTurnOfTheEventLoop();
    expect(committed(path).blobs).toBe(1);
    await store.blobs.put('just before closing');
    await store.close();
    expect(committed(path).blobs).toBe(2);
  });

  it('reports a deferred write that fails to its own caller and keeps the other writes', async () => {
    const path = folders.databasePath();
    const { store, audit } = openStore(path);
    await audit.append(sampleEntry(0));
    // Break the chain's head, then try to extend it: the append must fail alone.
    store.database.prepare("UPDATE audit_head SET hash = 'broken' WHERE id = 1").run();
    const hash = await store.blobs.put('kept');
    await expect(audit.append(sampleEntry(1))).rejects.toMatchObject({ code: 'audit-tampered' });
    await store.journal.append('ses_a', sampleSession('ses_a'), 0);
    expect(committed(path)).toMatchObject({ blobs: 1, audit: 1 });
    expect(await store.blobs.get(hash)).toBe('kept');
    await store.close();
  });

  it('writes again, before anything else, the deferred writes of a transaction that failed', async () => {
    const path = folders.databasePath();
    const { store } = openStore(path);
    await store.journal.append('ses_a', sampleSession('ses_a').slice(0, 1), 0);
    const pages = Number(store.database.pragma('page_count', { simple: true }));
    store.database.pragma(`max_page_count = ${pages + 1}`);
    const hash = await store.blobs.put('small enough');
    // An event far larger than the room left fills the database.
    const [, second] = sampleSession('ses_a');
    const huge = { ...second!, padding: 'x'.repeat(64 * 1024) } as typeof second & { padding: string };
    await expect(store.journal.append('ses_a', [huge!], 1)).rejects.toMatchObject({ code: 'storage-failure' });

    store.database.pragma('max_page_count = 1073741823');
    await store.journal.append('ses_a', [huge!], 1);
    expect(committed(path)).toMatchObject({ blobs: 1, events: 2 });
    expect(await store.blobs.get(hash)).toBe('small enough');
    expect((await readAll(store.journal, 'ses_a')).map((event) => event.seq)).toEqual([1, 2]);
    await store.close();
  });

  it('commits each write by itself when turned off', async () => {
    const path = folders.databasePath();
    const store = createSqliteStore({ path, groupCommit: false });
    const audit = createSqliteAuditLog({ database: store.database });
    const outcomes = createSqliteIdempotencyStore(store.database, path);
    await store.blobs.put('on disk at once');
    await outcomes.put('idem_1', outcome);
    await audit.append(sampleEntry(0));
    expect(committed(path)).toEqual({ blobs: 1, events: 0, outcomes: 1, audit: 1 });
    await store.close();
  });
});
