import { chmodSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStore, databaseFileMode, openSqliteDatabase } from '../../src/store/index.ts';
import { sampleSession } from '../../src/testing/contracts/journal-samples.ts';
import { createTemporaryFolders } from './temporary-folder.ts';

const folders = createTemporaryFolders();
afterAll(() => folders.removeAll());

const modeOf = (path: string): number => statSync(path).mode & 0o777;

describe.skipIf(process.platform === 'win32')('database file modes', () => {
  it('creates the folders, the database and its -wal and -shm files private to their owner', async () => {
    const path = join(dirname(folders.databasePath()), 'state', 'keel', 'keel.db');
    const store = createSqliteStore({ path });
    try {
      await store.journal.append('ses_a', sampleSession('ses_a'), 0);
      await store.blobs.put('a prompt');
      expect(existsSync(`${path}-wal`)).toBe(true);
      expect(modeOf(path)).toBe(databaseFileMode);
      expect(modeOf(`${path}-wal`)).toBe(0o600);
      expect(modeOf(`${path}-shm`)).toBe(0o600);
      expect(modeOf(dirname(path))).toBe(0o700);
      expect(modeOf(dirname(dirname(path)))).toBe(0o700);
    } finally {
      await store.close();
    }
  });

  it('leaves the mode of an existing database file, and of a folder that existed, alone', () => {
    const path = folders.databasePath();
    writeFileSync(path, '');
    chmodSync(path, 0o640);
    chmodSync(dirname(path), 0o755);
    openSqliteDatabase({ path }).close();
    expect(modeOf(path)).toBe(0o640);
    expect(modeOf(dirname(path))).toBe(0o755);
  });
});
