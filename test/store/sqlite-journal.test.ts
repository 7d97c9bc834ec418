import { execFile } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteJournal, openSqliteDatabase } from '../../src/store/index.ts';
import { chainHash, journalChainGenesis } from '../../src/store/journal-chain.ts';
import { expectKeelError, readAll } from '../../src/testing/contracts/journal.contract.ts';
import { sampleSession, stampEvents, turnStartBody } from '../../src/testing/contracts/journal-samples.ts';
import { createTemporaryFolders } from './temporary-folder.ts';

const run = promisify(execFile);
const folders = createTemporaryFolders();
afterAll(() => folders.removeAll());

const childScript = fileURLToPath(new URL('./append-from-another-process.ts', import.meta.url));
const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));

async function inAnotherProcess(request: Record<string, unknown>): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', childScript, JSON.stringify(request)], { cwd: repositoryRoot });
  return JSON.parse(stdout.trim()) as Record<string, unknown>;
}

describe('SQLite journal', () => {
  const session = sampleSession('ses_a');

  it('keeps every event and the session summary across close and reopen', async () => {
    const path = folders.databasePath();
    const first = createSqliteJournal({ path });
    await first.append('ses_a', session.slice(0, 5), 0);
    const summaries = await first.listSessions();
    await first.close();

    const second = createSqliteJournal({ path });
    expect(await readAll(second, 'ses_a')).toEqual(session.slice(0, 5));
    expect(await second.lastSeq('ses_a')).toBe(5);
    expect(await second.listSessions()).toEqual(summaries);
    expect(await second.append('ses_a', session.slice(5), 5)).toBe(session.length);
    await second.close();
  });

  it('gives a writer in another process a conflict when its expectedSeq is stale, and takes its fresh append', async () => {
    const path = folders.databasePath();
    const journal = createSqliteJournal({ path });
    await journal.append('ses_a', session.slice(0, 3), 0);

    const stale = await inAnotherProcess({ path, sessionId: 'ses_a', mode: 'once', expectedSeq: 1 });
    expect(stale).toMatchObject({ appended: false, code: 'journal-conflict', details: { expected: 1, actual: 3 } });
    expect(await journal.lastSeq('ses_a')).toBe(3);

    const fresh = await inAnotherProcess({ path, sessionId: 'ses_a', mode: 'once', expectedSeq: 3 });
    expect(fresh).toEqual({ appended: true, lastSeq: 4 });
    expect((await readAll(journal, 'ses_a')).map((event) => event.seq)).toEqual([1, 2, 3, 4]);
    await journal.close();
  });

  it('checks an append against the stored head, not the one it last wrote: another connection\'s append is a conflict, a re-chained head is the one extended', async () => {
    const path = folders.databasePath();
    const journal = createSqliteJournal({ path });
    const other = createSqliteJournal({ path });
    await journal.append('ses_a', session.slice(0, 3), 0);
    await other.append('ses_a', session.slice(3, 4), 3);
    await expectKeelError(journal.append('ses_a', session.slice(3, 4), 3), 'journal-conflict');
    expect(await journal.append('ses_a', session.slice(4, 6), 4)).toBe(6);
    expect(await journal.append('ses_a', session.slice(6, 8), 6)).toBe(8);

    const raw = new Database(path);
    const chainIsWhole = (): boolean => {
      let head = journalChainGenesis;
      for (const row of raw.prepare<[], { seq: number; key_id: string | null; body: string; hash: string }>("SELECT seq, key_id, body, hash FROM events WHERE session_id = 'ses_a' ORDER BY seq").all()) {
        head = chainHash(head, { sessionId: 'ses_a', seq: row.seq, keyId: row.key_id, body: row.body });
        if (row.hash !== head) return false;
      }
      return raw.prepare<[], string>("SELECT head_hash FROM sessions WHERE session_id = 'ses_a'").pluck().get() === head;
    };
    expect(chainIsWhole()).toBe(true);
    // A head changed under the journal (as re-encryption re-chains a session) is the one the next event links to.
    raw.prepare("UPDATE sessions SET head_hash = 'rewritten' WHERE session_id = 'ses_a'").run();
    expect(await journal.append('ses_a', session.slice(8, 9), 8)).toBe(9);
    const ninth = raw.prepare<[], { key_id: string | null; body: string; hash: string }>("SELECT key_id, body, hash FROM events WHERE session_id = 'ses_a' AND seq = 9").get()!;
    expect(ninth.hash).toBe(chainHash('rewritten', { sessionId: 'ses_a', seq: 9, keyId: ninth.key_id, body: ninth.body }));
    raw.close();
    await other.close();
    await journal.close();
  });

  it('serialises writers racing from several processes into one gapless journal', async () => {
    const path = folders.databasePath();
    await createSqliteJournal({ path }).close();
    const writers = ['w1', 'w2', 'w3'];
    const perWriter = 150;
    const barrier = dirname(folders.databasePath());
    const reports = await Promise.all(
      writers.map((writer) => inAnotherProcess({ path, sessionId: 'ses_race', mode: 'race', count: perWriter, writer, barrier, writers: writers.length })),
    );
    // The writers did race: some read a last seq that another had moved on by the time they appended.
    expect(reports.reduce((total, report) => total + Number(report.conflicts), 0)).toBeGreaterThan(0);

    const journal = createSqliteJournal({ path });
    const events = await readAll(journal, 'ses_race');
    expect(events.map((event) => event.seq)).toEqual(Array.from({ length: writers.length * perWriter }, (_, index) => index + 1));
    for (const writer of writers) {
      const mine = events.filter((event) => event.type === 'tool-result' && event.callId.startsWith(`${writer}_`));
      expect(mine).toHaveLength(perWriter);
    }
    await journal.close();
  });

  it('refuses to read an event written in a version it does not know, naming the session and seq', async () => {
    const path = folders.databasePath();
    const journal = createSqliteJournal({ path });
    await journal.append('ses_a', session.slice(0, 2), 0);
    // What a newer Keel would have written: the same envelope with a version this build does not read.
    const raw = new Database(path);
    const future = { ...stampEvents('ses_a', [turnStartBody(2)], 3)[0]!, v: 2 };
    raw.prepare('INSERT INTO events (session_id, seq, type, at, body) VALUES (?, ?, ?, ?, ?)').run('ses_a', 3, 'turn-start', future.at, JSON.stringify(future));
    raw.close();

    const read = readAll(journal, 'ses_a');
    const error = await expectKeelError(read, 'journal-corrupt');
    expect(error.message).toContain('ses_a');
    expect(error.message).toContain('Event 3');
    expect(error.message).toContain('version 2');
    expect(error.details).toMatchObject({ sessionId: 'ses_a', seq: 3 });
    expect(await readAll(journal, 'ses_a', 1).catch(() => 'failed')).toBe('failed');
    await journal.close();
  });

  it('reports a body that is not JSON, or that disagrees with its row, as journal-corrupt', async () => {
    const path = folders.databasePath();
    const journal = createSqliteJournal({ path });
    await journal.append('ses_a', session.slice(0, 2), 0);
    const raw = new Database(path);
    raw.prepare('UPDATE events SET body = ? WHERE session_id = ? AND seq = ?').run('{"v":1,"seq":', 'ses_a', 2);
    expect((await expectKeelError(readAll(journal, 'ses_a'), 'journal-corrupt')).details).toMatchObject({ seq: 2 });
    raw.prepare('UPDATE events SET body = ? WHERE session_id = ? AND seq = ?').run(JSON.stringify(session[0]), 'ses_a', 2);
    raw.close();
    expect((await expectKeelError(readAll(journal, 'ses_a', 2), 'journal-corrupt')).message).toContain('seq 1');
    await journal.close();
  });

  it('fails with a retryable storage-failure naming the file when another connection holds the write lock', async () => {
    const path = folders.databasePath();
    const journal = createSqliteJournal({ database: openSqliteDatabase({ path, busyTimeoutMs: 50 }) });
    const blocker = new Database(path);
    blocker.exec('BEGIN IMMEDIATE');
    try {
      const error = await expectKeelError(journal.append('ses_a', session.slice(0, 1), 0), 'storage-failure');
      expect(error.retryable).toBe(true);
      expect(error.message).toContain(path);
      expect(error.message).toContain('appending to session ses_a');
      expect((error.cause as { code?: string }).code).toMatch(/^SQLITE_BUSY/);
    } finally {
      blocker.exec('ROLLBACK');
      blocker.close();
    }
    expect(await journal.append('ses_a', session.slice(0, 1), 0)).toBe(1);
  });

  it('leaves a shared database open when the journal closes', async () => {
    const database = openSqliteDatabase({ path: folders.databasePath() });
    const journal = createSqliteJournal({ database });
    await journal.close();
    expect(database.open).toBe(true);
    const again = createSqliteJournal({ database });
    expect(await again.lastSeq('ses_a')).toBe(0);
    database.close();
  });
});
