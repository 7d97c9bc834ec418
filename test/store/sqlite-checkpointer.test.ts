import { existsSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { KeelError } from '../../src/errors/index.ts';
import { createSqliteStore } from '../../src/store/index.ts';
import { sampleSession } from '../../src/testing/contracts/journal-samples.ts';
import { createTemporaryFolders } from './temporary-folder.ts';
import { eventsInMainFile } from '../helpers/database-main-file.ts';

const folders = createTemporaryFolders();
afterAll(() => folders.removeAll());

/** Polls until `check` holds; the worker runs on a clock, so the test waits for it rather than for a fixed time. */
async function eventually(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    let holds = false;
    try {
      holds = check();
    } catch (error) {
      // A copy of the file taken while a checkpoint writes it can be torn; the next look is not.
      if (Date.now() > deadline) throw error;
    }
    if (holds) return;
    if (Date.now() > deadline) throw new Error(`Still not: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function autocheckpointPages(database: Database.Database): number {
  return database.pragma('wal_autocheckpoint', { simple: true }) as number;
}

describe('background checkpoints of a SQLite store', () => {
  it('start once the database is written to, take over from SQLite, and copy commits into the database file', async () => {
    const path = folders.databasePath();
    const store = createSqliteStore({ path, backgroundCheckpoints: { intervalMs: 20 } });
    try {
      expect(store.checkpoints.state).toBe('waiting-for-writes');
      expect(autocheckpointPages(store.database)).toBe(1000);
      await store.journal.append('ses_a', sampleSession('ses_a'), 0);
      await eventually(() => store.checkpoints.state === 'running', 'the checkpointer runs');
      expect(autocheckpointPages(store.database)).toBe(0);
      // Commits made after the worker took over reach the database file without any commit checkpointing them.
      await store.journal.append('ses_b', sampleSession('ses_b'), 0);
      const expected = sampleSession('ses_a').length + sampleSession('ses_b').length;
      await eventually(() => eventsInMainFile(path) === expected, `${expected} events in the database file`);
    } finally {
      await store.close();
    }
    expect(store.checkpoints.state).toBe('stopped');
    // Closing still checkpoints and removes the log, as SQLite does for the last connection.
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it('run with the default interval when turned on with true: a commit reaches the database file within a few seconds', async () => {
    const path = folders.databasePath();
    const store = createSqliteStore({ path, backgroundCheckpoints: true });
    try {
      await store.journal.append('ses_a', sampleSession('ses_a'), 0);
      await eventually(() => eventsInMainFile(path) === sampleSession('ses_a').length, 'the session in the database file');
      expect(store.checkpoints.state).toBe('running');
    } finally {
      await store.close();
    }
  });

  it('keep a log that writers fill faster than the interval within its limit once the writers pause', async () => {
    const path = folders.databasePath();
    const walLimitBytes = 1024 * 1024;
    const store = createSqliteStore({ path, backgroundCheckpoints: { intervalMs: 20, walLimitBytes } });
    try {
      await store.blobs.put('first');
      await eventually(() => store.checkpoints.state === 'running', 'the checkpointer runs');
      // About 4 MB of distinct blobs, several times the limit, written without a pause.
      for (let index = 0; index < 1_000; index += 1) await store.blobs.put(`${index}:${'x'.repeat(4_000)}`);
      await eventually(() => statSync(`${path}-wal`).size <= walLimitBytes, 'the log back within its limit');
      await eventually(() => {
        const database = new Database(`${path}`, { readonly: true });
        try {
          return (database.prepare('SELECT count(*) AS count FROM blobs').get() as { count: number }).count === 1_001;
        } finally {
          database.close();
        }
      }, 'every blob readable');
    } finally {
      await store.close();
    }
  });

  it('are left to SQLite by default, when turned off, and for a database in memory', async () => {
    const path = folders.databasePath();
    const byDefault = createSqliteStore({ path: folders.databasePath() });
    expect(byDefault.checkpoints.state).toBe('stopped');
    await byDefault.close();
    const off = createSqliteStore({ path, backgroundCheckpoints: false });
    const memory = createSqliteStore({ path: ':memory:', backgroundCheckpoints: { intervalMs: 20 } });
    try {
      await off.journal.append('ses_a', sampleSession('ses_a'), 0);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(off.checkpoints.state).toBe('stopped');
      expect(autocheckpointPages(off.database)).toBe(1000);
      expect(memory.checkpoints.state).toBe('stopped');
    } finally {
      await off.close();
      await memory.close();
    }
  });

  it('refuse settings out of range with invalid-config, leaving no connection open', () => {
    const path = folders.databasePath();
    for (const backgroundCheckpoints of [{ intervalMs: 0 }, { intervalMs: 1.5 }, { walLimitBytes: 1024 }]) {
      let thrown: unknown;
      try {
        createSqliteStore({ path, backgroundCheckpoints });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(KeelError);
      expect((thrown as KeelError).code).toBe('invalid-config');
    }
    // A connection left open would keep the log; a new store opens and closes the file normally.
    const database = new Database(path);
    expect(database.pragma('journal_mode', { simple: true })).toBe('wal');
    database.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
  });
});
