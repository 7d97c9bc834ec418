import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isKeelError } from '../../../src/errors/index.ts';
import { createPostgresBlobStore, createPostgresIdempotencyStore, createPostgresJournal, openPostgresDatabase, openPostgresStore } from '../../../src/store/postgres/index.ts';
import type { PostgresDatabase } from '../../../src/store/postgres/index.ts';
import { expectKeelError, readAll, sampleSession } from '../../../src/testing/contracts/index.ts';
import { startPostgresServer, type PostgresServerProcess } from '../../helpers/postgres-server.ts';

// What the contracts cannot say about the PostgreSQL journal: encryption at rest, damaged rows, the hash chain.
let server: PostgresServerProcess;
let schemas = 0;
const opened: PostgresDatabase[] = [];
beforeAll(async () => {
  server = await startPostgresServer();
}, 60_000);
afterAll(async () => {
  for (const database of opened) await database.close();
  await server.stop();
});
function freshDatabase(): PostgresDatabase {
  schemas += 1;
  const database = openPostgresDatabase({ url: server.url, schema: `journal_${schemas}`, maxConnections: 2 });
  opened.push(database);
  return database;
}

describe('the PostgreSQL journal', () => {
  it('encrypts event bodies, blobs and tool outcomes at rest and reads them back only with the key', async () => {
    const database = freshDatabase();
    const key = randomBytes(32);
    const session = sampleSession('ses_secret');
    const journal = createPostgresJournal({ database, encryption: { key } });
    const blobs = createPostgresBlobStore({ database, encryption: { key } });
    const outcomes = createPostgresIdempotencyStore({ database, encryption: { key } });
    await journal.append('ses_secret', session, 0);
    const hash = await blobs.put('the assembled prompt, secret');
    await outcomes.put('k', { ok: true, output: 'secret output', error: null, fullOutputBlob: null, recordedAt: 1 });
    expect(await readAll(journal, 'ses_secret')).toEqual(session);
    expect(await blobs.get(hash)).toBe('the assembled prompt, secret');
    expect((await outcomes.get('k'))?.output).toBe('secret output');

    const raw = await database.query<{ body: string; key_id: string }>('SELECT body, key_id FROM events ORDER BY seq LIMIT 1');
    expect(raw.rows[0]?.key_id).toMatch(/^k[0-9a-f]{16}$/);
    expect(raw.rows[0]?.body).not.toContain('session-start');
    const rawBlob = await database.query<{ content: Buffer }>('SELECT content FROM blobs');
    expect(rawBlob.rows[0]?.content.toString('utf8')).not.toContain('secret');

    const withoutKey = createPostgresJournal({ database, encryption: false });
    await expectKeelError(readAll(withoutKey, 'ses_secret'), 'storage-key-invalid');
    await Promise.all([journal.close(), blobs.close(), outcomes.close(), withoutKey.close()]);
  });

  it('reports a damaged event row as journal-corrupt, naming the session and seq', async () => {
    const database = freshDatabase();
    const journal = createPostgresJournal({ database, encryption: false });
    await journal.append('ses_a', sampleSession('ses_a').slice(0, 3), 0);
    await database.query("UPDATE events SET body = '{not json' WHERE session_id = 'ses_a' AND seq = 2");
    const error = await expectKeelError(readAll(journal, 'ses_a'), 'journal-corrupt');
    expect(error.details).toMatchObject({ sessionId: 'ses_a', seq: 2 });
    await database.query(`UPDATE events SET body = replace(body, '"seq":3', '"seq":9') WHERE session_id = 'ses_a' AND seq = 3`);
    expect((await expectKeelError(readAll(journal, 'ses_a', 3), 'journal-corrupt')).message).toMatch(/carries session ses_a and seq 9/);
    await journal.close();
  });

  it('chains each session\'s events and keeps the head in the session row, as the SQLite journal does', async () => {
    const database = freshDatabase();
    const journal = createPostgresJournal({ database, encryption: false });
    const session = sampleSession('ses_a');
    await journal.append('ses_a', session.slice(0, 2), 0);
    await journal.append('ses_a', session.slice(2), 2);
    const { chainHash, journalChainGenesis } = await import('../../../src/store/journal-chain.ts');
    const rows = await database.query<{ seq: string; body: string; hash: string }>("SELECT seq, body, hash FROM events WHERE session_id = 'ses_a' ORDER BY seq");
    let head = journalChainGenesis;
    for (const row of rows.rows) {
      head = chainHash(head, { sessionId: 'ses_a', seq: Number(row.seq), keyId: null, body: row.body });
      expect(row.hash).toBe(head);
    }
    const summary = await database.query<{ head_hash: string }>("SELECT head_hash FROM sessions WHERE session_id = 'ses_a'");
    expect(summary.rows[0]?.head_hash).toBe(head);
    await journal.close();
  });

  it('keeps appends ordered across two pools writing one session, one winner per seq', async () => {
    schemas += 1;
    const schema = `journal_${schemas}`;
    const first = createPostgresJournal({ url: server.url, schema, maxConnections: 3, encryption: false });
    const second = createPostgresJournal({ url: server.url, schema, maxConnections: 3, encryption: false });
    const session = sampleSession('ses_race');
    const outcomes = await Promise.allSettled([first.append('ses_race', session.slice(0, 1), 0), second.append('ses_race', session.slice(0, 1), 0)]);
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
    const loser = outcomes.find((outcome) => outcome.status === 'rejected');
    expect(loser?.status === 'rejected' && isKeelError(loser.reason, 'journal-conflict') && loser.reason.retryable).toBe(true);
    expect(await readAll(second, 'ses_race')).toEqual(session.slice(0, 1));
    await first.close();
    await second.close();
  });

  it('never lets a process append after a head it remembers once another process moved the session on', async () => {
    schemas += 1;
    const schema = `journal_${schemas}`;
    const first = createPostgresJournal({ url: server.url, schema, maxConnections: 1, encryption: false });
    const second = createPostgresJournal({ url: server.url, schema, maxConnections: 1, encryption: false });
    const session = sampleSession('ses_moved');
    await first.append('ses_moved', session.slice(0, 2), 0);
    await first.append('ses_moved', session.slice(2, 3), 2);
    // The second process takes over (a lease expired) and appends; the first still remembers seq 3.
    await second.append('ses_moved', session.slice(3, 4), 3);
    const stale = await expectKeelError(first.append('ses_moved', session.slice(3, 4), 3), 'journal-conflict');
    expect(stale.details).toMatchObject({ expected: 3, actual: 4 });
    expect(await first.append('ses_moved', session.slice(4, 5), 4)).toBe(5);
    expect(await second.append('ses_moved', session.slice(5), 5)).toBe(session.length);
    expect(await readAll(first, 'ses_moved')).toEqual(session);
    const { chainHash, journalChainGenesis } = await import('../../../src/store/journal-chain.ts');
    const rows = await second.read('ses_moved');
    let head = journalChainGenesis;
    for await (const event of rows) head = chainHash(head, { sessionId: 'ses_moved', seq: event.seq, keyId: null, body: JSON.stringify(event) });
    const database = freshDatabase();
    const stored = await database.query<{ head_hash: string }>(`SELECT head_hash FROM ${schema}.sessions WHERE session_id = 'ses_moved'`);
    expect(stored.rows[0]?.head_hash).toBe(head);
    await first.close();
    await second.close();
  });

  it('opens a store only once its tables exist, and fails at open for a database that does not exist', async () => {
    const store = await openPostgresStore({ url: server.url, schema: 'opened', maxConnections: 2 });
    const tables = await store.database.query<{ name: string }>("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'opened' ORDER BY 1");
    expect(tables.rows.map((row) => row.name)).toEqual(['blobs', 'events', 'schema_migrations', 'session_leases', 'sessions']);
    await store.close();
    const missing = server.url.replace(/\/postgres$/, '/no_such_database');
    const error = await expectKeelError(openPostgresStore({ url: missing, maxConnections: 1 }), 'storage-failure');
    expect(error.message).toMatch(/PostgreSQL database no_such_database on 127\.0\.0\.1:\d+ \(schema public\) does not exist/);
    expect(error.retryable).toBe(false);
  });
});

