import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { isKeelError } from '../../src/errors/index.ts';
import type { KeelError } from '../../src/errors/index.ts';
import { createSqliteBlobStore, createSqliteJournal, createSqliteStore, journalMigrations, migrate, openSqliteDatabase } from '../../src/store/index.ts';
import type { Migration } from '../../src/store/index.ts';
import { expectKeelError } from '../../src/testing/contracts/journal.contract.ts';
import { sampleSession } from '../../src/testing/contracts/journal-samples.ts';
import { createTemporaryFolders } from './temporary-folder.ts';

const folders = createTemporaryFolders();
afterAll(() => folders.removeAll());

function thrown(action: () => unknown): KeelError {
  try {
    action();
  } catch (error) {
    if (isKeelError(error)) return error;
    throw error;
  }
  throw new Error('Expected a KeelError, but nothing was thrown.');
}

const notes: readonly Migration[] = [
  { version: 1, name: 'notes', sql: 'CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);' },
  { version: 2, name: 'note authors', sql: "ALTER TABLE notes ADD COLUMN author TEXT NOT NULL DEFAULT '';" },
];

describe('openSqliteDatabase', () => {
  it('creates missing parent folders and opens in WAL mode with the durability settings', () => {
    const path = join(dirname(folders.databasePath()), 'nested', 'deeper', 'keel.db');
    const database = openSqliteDatabase({ path, busyTimeoutMs: 1_234 });
    expect(database.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(database.pragma('synchronous', { simple: true })).toBe(1);
    expect(database.pragma('busy_timeout', { simple: true })).toBe(1_234);
    expect(database.pragma('foreign_keys', { simple: true })).toBe(1);
    database.close();
  });

  it('reports a file that is not a database as storage-failure naming the path', () => {
    const path = folders.databasePath();
    writeFileSync(path, 'this is a text file, not a database '.repeat(200));
    const error = thrown(() => createSqliteJournal({ path }));
    expect(error.code).toBe('storage-failure');
    expect(error.message).toContain(path);
    expect(error.message).toMatch(/not a SQLite database/);
    expect(error.retryable).toBe(false);
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('reports a parent that is a file, not a folder, as storage-failure naming the path', () => {
    const blocking = folders.databasePath('plain-file');
    writeFileSync(blocking, '');
    const path = join(blocking, 'keel.db');
    const error = thrown(() => openSqliteDatabase({ path }));
    expect(error.code).toBe('storage-failure');
    expect(error.message).toContain(path);
    expect(error.retryable).toBe(false);
  });

  it('rejects a negative busy timeout as a configuration error', () => {
    expect(thrown(() => openSqliteDatabase({ path: ':memory:', busyTimeoutMs: -1 })).code).toBe('invalid-config');
  });

  it('flushes the write-ahead log at every commit when asked for synchronous full, and refuses an unknown level', async () => {
    const path = folders.databasePath();
    const database = openSqliteDatabase({ path, synchronous: 'full' });
    // 2 is FULL: the level at which a returned commit survives a power loss.
    expect(database.pragma('synchronous', { simple: true })).toBe(2);
    database.close();
    const store = createSqliteStore({ path, synchronous: 'full' });
    expect(store.database.pragma('synchronous', { simple: true })).toBe(2);
    await store.journal.append('ses_a', sampleSession('ses_a'), 0);
    expect(await store.journal.lastSeq('ses_a')).toBe(sampleSession('ses_a').length);
    await store.close();
    const error = thrown(() => openSqliteDatabase({ path, synchronous: 'extra' as 'full' }));
    expect(error.code).toBe('invalid-config');
    expect(error.message).toContain('extra');
  });
});

describe('migrate', () => {
  it('applies pending migrations once, in order, and does nothing when run again', () => {
    const database = openSqliteDatabase({ path: folders.databasePath() });
    expect(migrate(database, 'notes', notes.slice(0, 1))).toEqual([1]);
    expect(migrate(database, 'notes', notes)).toEqual([2]);
    expect(migrate(database, 'notes', notes)).toEqual([]);
    database.prepare('INSERT INTO notes (text, author) VALUES (?, ?)').run('kept', 'ada');
    expect(migrate(database, 'notes', notes)).toEqual([]);
    expect(database.prepare('SELECT text, author FROM notes').all()).toEqual([{ text: 'kept', author: 'ada' }]);
    expect(database.prepare("SELECT version, name FROM schema_migrations WHERE component = 'notes' ORDER BY version").all()).toEqual([
      { version: 1, name: 'notes' },
      { version: 2, name: 'note authors' },
    ]);
    database.close();
  });

  it('keeps the journal and blob tables on separate version lines, and reopening changes nothing', async () => {
    const path = folders.databasePath();
    const journal = createSqliteJournal({ path });
    await journal.append('ses_a', sampleSession('ses_a'), 0);
    await journal.close();
    const blobs = createSqliteBlobStore({ path });
    await blobs.close();
    const reopened = createSqliteJournal({ path });
    expect(await reopened.lastSeq('ses_a')).toBe(sampleSession('ses_a').length);
    await reopened.close();

    const database = openSqliteDatabase({ path });
    expect(database.prepare('SELECT component, version FROM schema_migrations ORDER BY component, version').all()).toEqual([
      { component: 'blobs', version: 1 },
      { component: 'blobs', version: 2 },
      { component: 'journal', version: 1 },
      { component: 'journal', version: 2 },
    ]);
    expect(migrate(database, 'journal', journalMigrations)).toEqual([]);
    database.close();
  });

  it('opens an up-to-date database while another process holds the write lock', async () => {
    const path = folders.databasePath();
    const writer = createSqliteJournal({ path });
    await writer.append('ses_a', sampleSession('ses_a'), 0);
    const blocker = new Database(path);
    blocker.exec('BEGIN IMMEDIATE');
    try {
      const reader = createSqliteJournal({ database: openSqliteDatabase({ path, busyTimeoutMs: 50 }) });
      expect(await reader.lastSeq('ses_a')).toBe(sampleSession('ses_a').length);
    } finally {
      blocker.exec('ROLLBACK');
      blocker.close();
      await writer.close();
    }
  });

  it('rolls back every migration of the run when one fails', () => {
    const database = openSqliteDatabase({ path: folders.databasePath() });
    const broken: Migration[] = [notes[0]!, { version: 2, name: 'broken', sql: 'ALTER TABLE missing ADD COLUMN x TEXT;' }];
    expect(thrown(() => migrate(database, 'notes', broken)).code).toBe('storage-failure');
    expect(database.prepare("SELECT name FROM sqlite_master WHERE name IN ('notes', 'schema_migrations')").all()).toEqual([]);
    expect(migrate(database, 'notes', notes)).toEqual([1, 2]);
    database.close();
  });

  it('refuses a database migrated by a newer Keel', () => {
    const database = openSqliteDatabase({ path: folders.databasePath() });
    migrate(database, 'notes', notes);
    const error = thrown(() => migrate(database, 'notes', notes.slice(0, 1)));
    expect(error.code).toBe('storage-failure');
    expect(error.message).toMatch(/schema version 2, newer than this Keel knows \(1\)/);
    expect(error.retryable).toBe(false);
    database.close();
  });

  it('rejects a migration list that is not numbered 1, 2, 3…', () => {
    const database = openSqliteDatabase({ path: ':memory:' });
    expect(thrown(() => migrate(database, 'notes', [notes[1]!])).code).toBe('internal');
    database.close();
  });
});

describe('storage failures from a working database', () => {
  it('reports a full disk as a storage-failure that says so and is not retried', async () => {
    const database = openSqliteDatabase({ path: folders.databasePath() });
    const journal = createSqliteJournal({ database });
    const pages = Number(database.pragma('page_count', { simple: true }));
    // A size cap is how SQLite lets us meet SQLITE_FULL without filling a real disk.
    database.pragma(`max_page_count = ${pages + 2}`);
    const session = sampleSession('ses_a');
    const huge = [{ ...session[0]!, input: 'x'.repeat(64 * 1024) }];
    const error = await expectKeelError(journal.append('ses_a', huge, 0), 'storage-failure');
    expect(error.message).toMatch(/full/);
    expect(error.message).toContain(database.name);
    expect(error.retryable).toBe(false);
    expect(error.details).toMatchObject({ code: 'SQLITE_FULL' });
    expect(await journal.lastSeq('ses_a')).toBe(0);
    database.close();
  });

  it('reports a read-only database as a storage-failure telling what to check', async () => {
    const database = openSqliteDatabase({ path: folders.databasePath() });
    const journal = createSqliteJournal({ database });
    database.pragma('query_only = ON');
    const error = await expectKeelError(journal.append('ses_a', sampleSession('ses_a'), 0), 'storage-failure');
    expect(error.message).toMatch(/read-only/);
    expect(error.message).toMatch(/writable/);
    expect(error.retryable).toBe(false);
    database.close();
  });
});
