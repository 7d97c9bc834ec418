import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, it } from 'vitest';
import { createSqliteStore } from '../../src/store/index.ts';
import { sampleSession } from '../../src/testing/contracts/journal-samples.ts';
import { eventually } from './checkpointer-processes.ts';
import { eventsInMainFile } from '../helpers/database-main-file.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-probe-checkpointer-relative-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('background checkpoints of a store opened with a relative path (low severity)', () => {
  // The worker is spawned lazily, after the first write, and opens `database.name` as given: a relative path
  // resolved against the process's working directory *then*. A process that changed directory meanwhile (into
  // another project with its own .keel/keel.db, say) gets a worker that checkpoints that other database, while
  // this connection's own autocheckpoint is off: this database's log is never copied into its file again.
  // Resolving the path when the store opens (path.resolve) closes it.
  it('checkpoints the database the store opened, after the process changed its working directory', async () => {
    const first = join(scratch, 'first');
    const second = join(scratch, 'second');
    mkdirSync(join(first, '.keel'), { recursive: true });
    mkdirSync(join(second, '.keel'), { recursive: true });
    // Another project's database, open and written by someone else, at the same relative path.
    const other = new Database(join(second, '.keel', 'keel.db'));
    other.pragma('journal_mode = WAL');
    other.pragma('wal_autocheckpoint = 0');
    other.exec('CREATE TABLE other (x)');
    other.prepare('INSERT INTO other VALUES (1)').run();
    const home = process.cwd();
    process.chdir(first);
    const store = createSqliteStore({ path: '.keel/keel.db', backgroundCheckpoints: { intervalMs: 20 } });
    try {
      await store.journal.append('ses_a', sampleSession('ses_a'), 0);
      process.chdir(second);
      await eventually(() => store.checkpoints.state !== 'waiting-for-writes' && store.checkpoints.state !== 'starting', 'the checkpointer started');
      await store.journal.append('ses_b', sampleSession('ses_b'), 0);
      const expected = 2 * sampleSession('ses_a').length;
      await eventually(
        () => store.checkpoints.state === 'failed' || eventsInMainFile(join(first, '.keel', 'keel.db')) === expected,
        'the commits copied into the database the store opened, or the checkpoints handed back to SQLite',
        10_000,
      );
    } finally {
      process.chdir(home);
      await store.close();
      other.close();
    }
  }, 30_000);
});
