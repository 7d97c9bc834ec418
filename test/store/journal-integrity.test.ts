import { copyFileSync, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { SessionEvent } from '../../src/spec/events.ts';
import {
  backupDatabase,
  chainHash,
  checkDatabase,
  createSqliteJournal,
  createSqliteStore,
  journalMigrations,
  migrate,
  openSqliteDatabase,
} from '../../src/store/index.ts';
import type { JournalHeads } from '../../src/store/index.ts';
import { expectKeelError, readAll } from '../../src/testing/contracts/journal.contract.ts';
import { sampleSession, stampEvents, toolResultBody } from '../../src/testing/contracts/journal-samples.ts';
import { createTemporaryFolders } from './temporary-folder.ts';

const folders = createTemporaryFolders();
afterAll(() => folders.removeAll());

const fixture = fileURLToPath(new URL('../fixtures/journals/v1-incident-session.jsonl', import.meta.url));
const incident = readFileSync(fixture, 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as SessionEvent);

async function journalWith(path: string, sessions: readonly string[]): Promise<void> {
  const journal = createSqliteJournal({ path });
  try {
    for (const sessionId of sessions) await journal.append(sessionId, sampleSession(sessionId), 0);
  } finally {
    await journal.close();
  }
}

/** The files in a database's folder, without the -wal and -shm files a read-only reader of the source leaves (SQLite keeps them for the next writer). */
function filesBeside(path: string): string[] {
  return readdirSync(dirname(path))
    .filter((name) => !/^keel\.db-(wal|shm)$/.test(name))
    .sort();
}

function tamper(path: string, sql: string): void {
  const database = new Database(path);
  try {
    database.exec(sql);
  } finally {
    database.close();
  }
}

describe('checkDatabase', () => {
  it('passes a healthy journal and counts its sessions and events', async () => {
    const path = folders.databasePath();
    await journalWith(path, ['ses_a', 'ses_b']);
    expect(checkDatabase(path)).toEqual({
      path,
      ok: true,
      sessions: 2,
      events: 2 * sampleSession('ses_a').length,
      expectedHeads: 0,
      findings: [],
      omittedFindings: 0,
    });
  });

  it('finds a changed event, once, at its seq', async () => {
    const path = folders.databasePath();
    await journalWith(path, ['ses_a']);
    tamper(path, "UPDATE events SET body = replace(body, 'ord_42', 'ord_43') WHERE session_id = 'ses_a' AND seq = 1");
    const report = checkDatabase(path);
    expect(report.ok).toBe(false);
    expect(report.findings).toEqual([expect.objectContaining({ kind: 'chain-broken', sessionId: 'ses_a', seq: 1 })]);
  });

  it('finds a gap in the seqs and a session row ahead of its events', async () => {
    const path = folders.databasePath();
    await journalWith(path, ['ses_a', 'ses_b']);
    const last = sampleSession('ses_b').length;
    tamper(path, `DELETE FROM events WHERE session_id = 'ses_a' AND seq IN (3, 4); DELETE FROM events WHERE session_id = 'ses_b' AND seq = ${last}`);
    const kinds = checkDatabase(path).findings.map(({ kind, sessionId, seq }) => ({ kind, sessionId, seq }));
    expect(kinds).toEqual([
      { kind: 'sequence-gap', sessionId: 'ses_a', seq: 3 },
      { kind: 'head-mismatch', sessionId: 'ses_b', seq: last - 1 },
    ]);
  });

  it('finds events without a session row, and a file others can read', async () => {
    const path = folders.databasePath();
    await journalWith(path, ['ses_a']);
    tamper(path, "DELETE FROM sessions WHERE session_id = 'ses_a'");
    const report = checkDatabase(path);
    expect(report.findings.map((finding) => finding.kind)).toEqual(['orphan-events']);
    if (process.platform !== 'win32') {
      const { chmodSync } = await import('node:fs');
      chmodSync(path, 0o644);
      expect(checkDatabase(path).findings).toContainEqual(expect.objectContaining({ kind: 'file-readable-by-others', severity: 'warning' }));
    }
  });

  it('never creates a database', async () => {
    const path = join(dirname(folders.databasePath()), 'absent.db');
    expect(() => checkDatabase(path)).toThrow(/No database/);
    expect(existsSync(path)).toBe(false);
  });
});

describe('journal upgrade to hash chains', () => {
  it('chains the sessions of a database written before them, keeps them readable, and chains new appends on top', async () => {
    const path = folders.databasePath();
    // A database exactly as the first journal schema left it, holding the historical incident session.
    const old = openSqliteDatabase({ path });
    migrate(old, 'journal', journalMigrations.slice(0, 1));
    const insert = old.prepare('INSERT INTO events (session_id, seq, type, at, body) VALUES (?, ?, ?, ?, ?)');
    for (const event of incident) insert.run(event.sessionId, event.seq, event.type, event.at, JSON.stringify(event));
    const first = incident[0]!;
    old.prepare('INSERT INTO sessions (session_id, agent, started_at, updated_at, last_seq, status) VALUES (?, ?, ?, ?, ?, ?)').run(
      first.sessionId,
      first.type === 'session-start' ? first.agent.name : '',
      first.at,
      incident.at(-1)!.at,
      incident.length,
      'completed',
    );
    old.close();
    expect(checkDatabase(path).findings.map((finding) => finding.kind)).toEqual(['not-chained']);

    const journal = createSqliteJournal({ path });
    try {
      expect(await readAll(journal, first.sessionId)).toEqual(incident);
      const more = stampEvents(first.sessionId, [toolResultBody(9, 'call_after_upgrade', 'appended by the new schema')], incident.length + 1);
      await journal.append(first.sessionId, more, incident.length);
    } finally {
      await journal.close();
    }
    expect(checkDatabase(path)).toMatchObject({ ok: true, sessions: 1, events: incident.length + 1, findings: [] });
  });
});

describe('backupDatabase', () => {
  it('copies the commits that live only in the -wal file, which a copy of the .db file loses', async () => {
    const path = folders.databasePath();
    const store = createSqliteStore({ path });
    // No automatic checkpoint: every commit stays in the -wal file, as after a killed session.
    store.database.pragma('wal_autocheckpoint = 0');
    await store.journal.append('ses_a', sampleSession('ses_a'), 0);
    const plainCopy = join(dirname(folders.databasePath()), 'copied.db');
    copyFileSync(path, plainCopy);
    const destination = join(dirname(folders.databasePath()), 'backups', 'keel-backup.db');
    try {
      const result = await backupDatabase(path, destination);
      expect(result).toMatchObject({ destination, headsPath: `${destination}.heads.json`, sessions: 1, events: sampleSession('ses_a').length, check: { ok: true } });
    } finally {
      await store.close();
    }
    const fromCopy = createSqliteJournal({ path: plainCopy });
    const fromBackup = createSqliteJournal({ path: destination });
    try {
      expect(await readAll(fromCopy, 'ses_a')).toEqual([]);
      expect(await readAll(fromBackup, 'ses_a')).toEqual(sampleSession('ses_a'));
    } finally {
      await fromCopy.close();
      await fromBackup.close();
    }
  });

  it('writes one self-contained private file and a heads file matching the copy', async () => {
    const path = folders.databasePath();
    await journalWith(path, ['ses_a', 'ses_b']);
    const destination = join(dirname(path), 'backup.db');
    const { headsPath } = await backupDatabase(path, destination);
    expect(filesBeside(path)).toEqual(['backup.db', 'backup.db.heads.json', 'keel.db']);
    if (process.platform !== 'win32') {
      expect(statSync(destination).mode & 0o777).toBe(0o600);
      expect(statSync(headsPath).mode & 0o777).toBe(0o600);
    }
    const heads = JSON.parse(readFileSync(headsPath, 'utf8')) as JournalHeads;
    const copy = new Database(destination, { readonly: true });
    try {
      expect(copy.pragma('journal_mode', { simple: true })).toBe('delete');
      const rows = copy.prepare('SELECT session_id AS sessionId, last_seq AS lastSeq, head_hash AS headHash FROM sessions ORDER BY session_id').all();
      expect(heads).toMatchObject({ format: 'keel-journal-heads', version: 1, sessions: rows });
      expect(heads.sessions).toHaveLength(2);
    } finally {
      copy.close();
    }
  });

  it('skips the check of the copy when asked, still counting and recording what it copied', async () => {
    const path = folders.databasePath();
    await journalWith(path, ['ses_a']);
    const result = await backupDatabase(path, join(dirname(path), 'backup.db'), { check: false });
    expect(result).toMatchObject({ sessions: 1, events: sampleSession('ses_a').length, check: undefined });
    expect(checkDatabase(result.destination, { expectHeads: result.headsPath })).toMatchObject({ ok: true, expectedHeads: 1 });
  });

  it('refuses to overwrite a file or back up a database that does not exist', async () => {
    const path = folders.databasePath();
    await journalWith(path, ['ses_a']);
    const destination = join(dirname(path), 'backup.db');
    await backupDatabase(path, destination);
    await expectKeelError(backupDatabase(path, destination), 'invalid-argument');
    await expectKeelError(backupDatabase(path, path, { overwrite: true }), 'invalid-argument');
    await expectKeelError(backupDatabase(join(dirname(path), 'absent.db'), join(dirname(path), 'other.db')), 'invalid-argument');
    expect(existsSync(join(dirname(path), 'absent.db'))).toBe(false);
    expect(filesBeside(path)).toEqual(['backup.db', 'backup.db.heads.json', 'keel.db']);
  });
});

describe('expected heads', () => {
  it('show a lost tail that the database alone cannot: a -wal file lost at a commit boundary leaves a consistent, older journal', async () => {
    const path = folders.databasePath();
    const store = createSqliteStore({ path });
    store.database.pragma('wal_autocheckpoint = 0');
    const events = sampleSession('ses_a');
    await store.journal.append('ses_a', events.slice(0, 5), 0);
    store.database.pragma('wal_checkpoint(TRUNCATE)');
    // These commits are only in the -wal file.
    await store.journal.append('ses_a', events.slice(5), 5);
    await store.journal.append('ses_b', sampleSession('ses_b'), 0);
    const { headsPath } = await backupDatabase(store.database, join(dirname(path), 'backup.db'));
    // What a restore from a copy of the .db file alone (or a deleted -wal file) gives.
    const withoutWal = join(dirname(path), 'without-wal.db');
    copyFileSync(path, withoutWal);
    await store.close();

    expect(checkDatabase(withoutWal)).toMatchObject({ ok: true, sessions: 1, events: 5 });
    const report = checkDatabase(withoutWal, { expectHeads: headsPath });
    expect(report.ok).toBe(false);
    expect(report.expectedHeads).toBe(2);
    expect(report.findings.map(({ kind, sessionId, seq }) => ({ kind, sessionId, seq }))).toEqual([
      { kind: 'tail-lost', sessionId: 'ses_a', seq: 6 },
      { kind: 'session-lost', sessionId: 'ses_b', seq: undefined },
    ]);
    expect(checkDatabase(path, { expectHeads: headsPath })).toMatchObject({ ok: true, expectedHeads: 2 });
  });

  it('show a history rewritten consistently, chain and session row included', async () => {
    const path = folders.databasePath();
    await journalWith(path, ['ses_a']);
    const { headsPath } = await backupDatabase(path, join(dirname(path), 'backup.db'));
    const last = sampleSession('ses_a').length;
    const database = new Database(path);
    const previous = database.prepare<[number], string>("SELECT hash FROM events WHERE session_id = 'ses_a' AND seq = ?").pluck().get(last - 1)!;
    const body = database.prepare<[number], string>("SELECT body FROM events WHERE session_id = 'ses_a' AND seq = ?").pluck().get(last)!.replace('completed', 'failed');
    const hash = chainHash(previous, { sessionId: 'ses_a', seq: last, keyId: null, body });
    database.prepare("UPDATE events SET body = ?, hash = ? WHERE session_id = 'ses_a' AND seq = ?").run(body, hash, last);
    database.prepare("UPDATE sessions SET head_hash = ? WHERE session_id = 'ses_a'").run(hash);
    database.close();
    expect(checkDatabase(path).ok).toBe(true);
    expect(checkDatabase(path, { expectHeads: headsPath }).findings).toEqual([expect.objectContaining({ kind: 'head-diverged', sessionId: 'ses_a', seq: last })]);
  });
});
