import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { isKeelError } from '../../src/errors/index.ts';
import { createSqliteAuditLog, createSqliteIdempotencyStore, createSqliteStore } from '../../src/store/index.ts';
import type { SqliteStore } from '../../src/store/index.ts';
import { groupCommitOf, heldWritesMaxMs } from '../../src/store/sqlite-group-commit.ts';
import { readAll } from '../../src/testing/contracts/journal.contract.ts';
import { sampleSession, stampEvents, turnStartBody } from '../../src/testing/contracts/journal-samples.ts';
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
    const { store, audit } = openStore(path);
    await audit.append(sampleEntry(0));
    await nextTurnOfTheEventLoop();
    expect(committed(path).audit).toBe(1);
    await audit.append(sampleEntry(1));
    await store.close();
    expect(committed(path).audit).toBe(2);
  });

  it('holds a blob for the next transaction, reads it from memory meanwhile, and commits it alone after heldWritesMaxMs or on close', async () => {
    const path = folders.databasePath();
    const { store } = openStore(path);
    const hash = await store.blobs.put('alone');
    // The end of the turn of the event loop commits deferred writes, not held ones: a model call may follow.
    await nextTurnOfTheEventLoop();
    expect(committed(path).blobs).toBe(0);
    expect(await store.blobs.get(hash)).toBe('alone');
    await new Promise((resolve) => setTimeout(resolve, heldWritesMaxMs + 50));
    expect(committed(path).blobs).toBe(1);
    expect(await store.blobs.get(hash)).toBe('alone');
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

/** Every session's seqs as stored on disk, read through another connection. */
function storedSeqs(path: string): Map<string, number[]> {
  const raw = new Database(path, { readonly: true });
  try {
    const rows = raw.prepare('SELECT session_id, seq FROM events ORDER BY session_id, seq').all() as { session_id: string; seq: number }[];
    const seqs = new Map<string, number[]>();
    for (const row of rows) seqs.set(row.session_id, [...(seqs.get(row.session_id) ?? []), row.seq]);
    return seqs;
  } finally {
    raw.close();
  }
}

const settle = <T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> =>
  promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );

describe('group commit of journal appends across sessions', () => {
  it('commits the appends of the other sessions made in one turn of the event loop together, and resolves each after that commit', async () => {
    const path = folders.databasePath();
    const { store } = openStore(path);
    const sessions = ['ses_a', 'ses_b', 'ses_c', 'ses_d'];
    const appends = sessions.map((id) => store.journal.append(id, sampleSession(id), 0));
    // The turn's first writer committed at once (alone, it would only wait); the others wait for the turn's end.
    expect([...storedSeqs(path).keys()]).toEqual(['ses_a']);
    const second = await appends[1];
    // Resolved only once on disk, and the other waiting sessions' events went with it.
    expect(second).toBe(sampleSession('ses_b').length);
    for (const [id, seqs] of storedSeqs(path)) expect(seqs, id).toEqual(sampleSession(id).map((event) => event.seq));
    expect([...storedSeqs(path).keys()]).toEqual(sessions);
    expect(await Promise.all(appends)).toEqual(sessions.map((id) => sampleSession(id).length));
    await store.close();
  });

  it('fails only the append of a session whose batch conflicts, and commits the other sessions', async () => {
    const path = folders.databasePath();
    const { store } = openStore(path);
    await store.journal.append('ses_a', sampleSession('ses_a').slice(0, 2), 0);
    const events = sampleSession('ses_b');
    const results = await Promise.all([
      settle(store.journal.append('ses_b', events.slice(0, 3), 0)),
      // Stale: ses_a is at seq 2.
      settle(store.journal.append('ses_a', sampleSession('ses_a').slice(1, 3), 1)),
      settle(store.journal.append('ses_c', sampleSession('ses_c'), 0)),
      // The second batch of ses_b in the same turn sees the first one.
      settle(store.journal.append('ses_b', events.slice(3), 3)),
    ]);
    expect(results.map((result) => result.ok)).toEqual([true, false, true, true]);
    const conflict = results[1]!;
    expect(!conflict.ok && isKeelError(conflict.error, 'journal-conflict')).toBe(true);
    const seqs = storedSeqs(path);
    expect(seqs.get('ses_a')).toEqual([1, 2]);
    expect(seqs.get('ses_b')).toEqual(events.map((event) => event.seq));
    expect(seqs.get('ses_c')).toEqual(sampleSession('ses_c').map((event) => event.seq));
    expect(await readAll(store.journal, 'ses_b')).toEqual(events);
    expect((await store.journal.listSessions()).map((summary) => [summary.sessionId, summary.lastSeq])).toEqual(
      expect.arrayContaining([['ses_a', 2], ['ses_b', events.length], ['ses_c', sampleSession('ses_c').length]]),
    );
    await store.close();
  });

  it('keeps the deferred writes of the transaction when an append committing at once conflicts', async () => {
    const path = folders.databasePath();
    const { store } = openStore(path);
    await store.journal.append('ses_a', sampleSession('ses_a').slice(0, 2), 0);
    const hash = await store.blobs.put('the next request');
    await expect(store.journal.append('ses_a', sampleSession('ses_a').slice(1, 3), 1)).rejects.toMatchObject({ code: 'journal-conflict' });
    await nextTurnOfTheEventLoop();
    expect(committed(path)).toMatchObject({ blobs: 1, events: 2 });
    expect(await store.blobs.get(hash)).toBe('the next request');
    // Alone in its transaction, a conflicting append leaves nothing behind either.
    await expect(store.journal.append('ses_a', sampleSession('ses_a').slice(1, 3), 1)).rejects.toMatchObject({ code: 'journal-conflict' });
    expect(await store.journal.append('ses_a', sampleSession('ses_a').slice(2), 2)).toBe(sampleSession('ses_a').length);
    expect(storedSeqs(path).get('ses_a')).toEqual(sampleSession('ses_a').map((event) => event.seq));
    await store.close();
  });

  it('fails only the batch that fills the disk, and commits the other sessions of the same transaction', async () => {
    const path = folders.databasePath();
    const { store } = openStore(path);
    await store.journal.append('ses_a', sampleSession('ses_a').slice(0, 1), 0);
    await store.journal.append('ses_b', sampleSession('ses_b').slice(0, 1), 0);
    const pages = Number(store.database.pragma('page_count', { simple: true }));
    store.database.pragma(`max_page_count = ${pages + 2}`);
    const [, second] = sampleSession('ses_a');
    const huge = { ...second!, padding: 'x'.repeat(256 * 1024) } as typeof second & { padding: string };
    const results = await Promise.all([
      settle(store.journal.append('ses_b', sampleSession('ses_b').slice(1, 2), 1)),
      settle(store.journal.append('ses_a', [huge!], 1)),
      settle(store.journal.append('ses_c', sampleSession('ses_c').slice(0, 1), 0)),
    ]);
    expect(results.map((result) => result.ok)).toEqual([true, false, true]);
    const full = results[1]!;
    expect(!full.ok && isKeelError(full.error, 'storage-failure')).toBe(true);
    store.database.pragma('max_page_count = 1073741823');
    expect(storedSeqs(path)).toEqual(new Map([['ses_a', [1]], ['ses_b', [1, 2]], ['ses_c', [1]]]));
    // The refused batch can be written again once there is room, at the same seq: nothing of it was stored.
    expect(await store.journal.append('ses_a', [huge!], 1)).toBe(2);
    await store.close();
  });

  it('rejects exactly the appends a failed commit carried, and writes the next ones', async () => {
    const path = folders.databasePath();
    const { store } = openStore(path);
    // A deferred foreign key is checked at COMMIT: a write breaking it makes that commit fail.
    store.database.exec('CREATE TABLE parents (id INTEGER PRIMARY KEY); CREATE TABLE children (parent INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)');
    const group = groupCommitOf(store.database)!;
    const insertOrphan = store.database.prepare('INSERT INTO children (parent) VALUES (7)');
    const results = await Promise.all([
      // The turn's first writer commits at once, before the failing commit.
      settle(store.journal.append('ses_z', sampleSession('ses_z').slice(0, 1), 0)),
      settle(store.journal.append('ses_a', sampleSession('ses_a').slice(0, 2), 0)),
      settle(group.queued(() => insertOrphan.run(), 'orphans')),
      settle(store.journal.append('ses_b', sampleSession('ses_b').slice(0, 1), 0)),
    ]);
    expect(results.map((result) => result.ok)).toEqual([true, false, false, false]);
    expect(results.map((result) => (result.ok ? null : (result.error as { code?: string }).code))).toEqual([null, 'storage-failure', 'SQLITE_CONSTRAINT_FOREIGNKEY', 'storage-failure']);
    expect(storedSeqs(path)).toEqual(new Map([['ses_z', [1]]]));
    expect(await store.journal.lastSeq('ses_a')).toBe(0);
    // The next turn of the event loop starts afresh: the same batches go in, once.
    await store.journal.append('ses_a', sampleSession('ses_a').slice(0, 2), 0);
    await store.journal.append('ses_b', sampleSession('ses_b').slice(0, 1), 0);
    expect(storedSeqs(path)).toEqual(new Map([['ses_a', [1, 2]], ['ses_b', [1]], ['ses_z', [1]]]));
    await store.close();
  });

  it('rejects, instead of leaving pending, appends whose database was closed before their commit', async () => {
    const path = folders.databasePath();
    const { store } = openStore(path);
    const first = store.journal.append('ses_z', sampleSession('ses_z').slice(0, 1), 0);
    const append = settle(store.journal.append('ses_a', sampleSession('ses_a'), 0));
    store.database.close();
    expect(await first).toBe(1);
    const result = await append;
    expect(!result.ok && isKeelError(result.error, 'storage-failure')).toBe(true);
    expect(committed(path).events).toBe(1);
  });

  it('commits queued appends with a durable write made before the end of the turn', async () => {
    const path = folders.databasePath();
    const { store, outcomes } = openStore(path);
    const first = store.journal.append('ses_z', sampleSession('ses_z').slice(0, 1), 0);
    const append = store.journal.append('ses_a', sampleSession('ses_a'), 0);
    await outcomes.put('idem_1', outcome);
    // The idempotency record committed before returning, and the append waiting before it went in the same commit.
    expect(committed(path)).toMatchObject({ events: 1 + sampleSession('ses_a').length, outcomes: 1 });
    expect(await first).toBe(1);
    expect(await append).toBe(sampleSession('ses_a').length);
    await store.close();
  });

  it('keeps every session gapless when many writers race, some with stale seqs', async () => {
    const path = folders.databasePath();
    const { store } = openStore(path);
    const sessions = Array.from({ length: 20 }, (_, index) => `ses_${String(index).padStart(2, '0')}`);
    const acknowledged = new Map<string, number>(sessions.map((id) => [id, 0]));
    let conflicts = 0;
    for (let round = 0; round < 10; round += 1) {
      const results = await Promise.all(
        sessions.flatMap((id) => {
          const from = acknowledged.get(id)!;
          const batch = stampEvents(id, [turnStartBody(round)], from + 1);
          // Every third session also sends a duplicate of its batch in the same turn: exactly one may win.
          const copies = Number(id.slice(4)) % 3 === 0 ? 2 : 1;
          return Array.from({ length: copies }, () => settle(store.journal.append(id, batch, from)).then((result) => ({ id, result })));
        }),
      );
      for (const { id, result } of results) {
        if (result.ok) acknowledged.set(id, result.value);
        else if (isKeelError(result.error, 'journal-conflict')) conflicts += 1;
        else throw result.error;
      }
    }
    expect(conflicts).toBe(7 * 10);
    const seqs = storedSeqs(path);
    for (const id of sessions) expect(seqs.get(id), id).toEqual(Array.from({ length: 10 }, (_, index) => index + 1));
    await store.close();
  });
});
