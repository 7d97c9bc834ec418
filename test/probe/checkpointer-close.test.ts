import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { checkDatabase, createSqliteStore } from '../../src/store/index.ts';
import { sampleSession, sessionStartBody, stampEvents, toolResultBody } from '../../src/testing/contracts/journal-samples.ts';
import { eventually } from './checkpointer-processes.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-probe-checkpointer-close-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let files = 0;
const databasePath = (): string => join(scratch, `keel-${(files += 1)}.db`);
const fast = { intervalMs: 10 };

function autocheckpointPages(database: Database.Database): number {
  return database.pragma('wal_autocheckpoint', { simple: true }) as number;
}

function eventCount(path: string): number {
  const database = new Database(path, { readonly: true });
  try {
    return (database.prepare('SELECT count(*) AS count FROM events').get() as { count: number }).count;
  } finally {
    database.close();
  }
}

/** About `count` × 4 KB of appends to one session, so that the worker has a log to copy. */
async function fillLog(store: ReturnType<typeof createSqliteStore>, sessionId: string, count: number): Promise<number> {
  let seq = await store.journal.append(sessionId, stampEvents(sessionId, [sessionStartBody()], 1), 0);
  for (let index = 0; index < count; index += 1) {
    seq = await store.journal.append(sessionId, stampEvents(sessionId, [toolResultBody(1, `call_${index}`, `${index}:${'y'.repeat(4_000)}`)], seq + 1), seq);
  }
  return seq;
}

describe('background checkpoints: closing and handing back (holds)', () => {
  it('closes right after creating (no worker yet), twice, and leaves no log', async () => {
    const path = databasePath();
    const store = createSqliteStore({ path, backgroundCheckpoints: fast });
    expect(store.checkpoints.state).toBe('waiting-for-writes');
    await Promise.all([store.close(), store.close()]);
    await store.close();
    expect(store.checkpoints.state).toBe('stopped');
    expect(store.database.open).toBe(false);
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it('closes while the worker is starting, and while it copies a large log; every event stays', async () => {
    for (const large of [false, true]) {
      const path = databasePath();
      const store = createSqliteStore({ path, backgroundCheckpoints: { ...fast, walLimitBytes: 1024 * 1024 } });
      let seq = await store.journal.append('ses_a', sampleSession('ses_a'), 0);
      if (large) {
        await eventually(() => store.checkpoints.state === 'running', 'the checkpointer runs');
        seq = await fillLog(store, 'ses_big', 1_500);
      } else {
        await eventually(() => store.checkpoints.state !== 'waiting-for-writes', 'the worker is spawned');
      }
      await store.close();
      expect(store.checkpoints.state).toBe('stopped');
      expect(existsSync(`${path}-wal`)).toBe(false);
      expect(eventCount(path)).toBe(sampleSession('ses_a').length + (large ? seq : 0));
      expect(checkDatabase(path).ok).toBe(true);
    }
  }, 60_000);

  it('keeps checkpointing after the journal alone is closed, and stops when the blobs are closed too', async () => {
    const path = databasePath();
    const store = createSqliteStore({ path, backgroundCheckpoints: fast });
    await store.journal.append('ses_a', sampleSession('ses_a'), 0);
    await eventually(() => store.checkpoints.state === 'running', 'the checkpointer runs');
    await store.journal.close();
    expect(store.checkpoints.state).toBe('running');
    const hash = await store.blobs.put('kept after the journal closed');
    expect(await store.blobs.get(hash)).toBe('kept after the journal closed');
    await store.blobs.close();
    expect(store.checkpoints.state).toBe('stopped');
    expect(store.database.open).toBe(false);
    await store.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it('stop() hands the checkpoints back to SQLite and the store keeps writing', async () => {
    const path = databasePath();
    const store = createSqliteStore({ path, backgroundCheckpoints: fast });
    try {
      await store.journal.append('ses_a', sampleSession('ses_a'), 0);
      await eventually(() => store.checkpoints.state === 'running', 'the checkpointer runs');
      expect(autocheckpointPages(store.database)).toBe(0);
      await Promise.all([store.checkpoints.stop(), store.checkpoints.stop()]);
      expect(store.checkpoints.state).toBe('stopped');
      expect(autocheckpointPages(store.database)).toBe(1000);
      await store.journal.append('ses_b', sampleSession('ses_b'), 0);
    } finally {
      await store.close();
    }
    expect(eventCount(path)).toBe(2 * sampleSession('ses_a').length);
  });

  it('two stores on one file in one process, each with its worker: closing one leaves the other checkpointing', async () => {
    const path = databasePath();
    const first = createSqliteStore({ path, backgroundCheckpoints: fast });
    const second = createSqliteStore({ path, backgroundCheckpoints: fast });
    try {
      await first.journal.append('ses_a', sampleSession('ses_a'), 0);
      await second.journal.append('ses_b', sampleSession('ses_b'), 0);
      await eventually(() => first.checkpoints.state === 'running' && second.checkpoints.state === 'running', 'both checkpointers run');
      await first.close();
      expect(second.checkpoints.state).toBe('running');
      expect(autocheckpointPages(second.database)).toBe(0);
      await fillLog(second, 'ses_c', 300);
      expect(checkDatabase(path).ok).toBe(true);
    } finally {
      await second.close();
    }
    expect(existsSync(`${path}-wal`)).toBe(false);
    expect(eventCount(path)).toBe(2 * sampleSession('ses_a').length + 301);
  }, 60_000);

  it('a worker that cannot open the file fails, and SQLite checkpoints again (state failed, autocheckpoint 1000)', async () => {
    const path = databasePath();
    const store = createSqliteStore({ path, backgroundCheckpoints: fast });
    try {
      // The first append creates the log; the database file is moved away before the worker opens it by its path,
      // and the log stays where the worker looks for it.
      renameSync(path, `${path}.moved`);
      await store.journal.append('ses_a', sampleSession('ses_a'), 0);
      await eventually(() => store.checkpoints.state === 'failed', 'the checkpointer failed');
      expect(store.checkpoints.failure).toMatch(/opening a checkpoint connection/);
      expect(autocheckpointPages(store.database)).toBe(1000);
      await store.journal.append('ses_b', sampleSession('ses_b'), 0);
    } finally {
      renameSync(`${path}.moved`, path);
      await store.close();
    }
    expect(eventCount(path)).toBe(2 * sampleSession('ses_a').length);
  });
});
