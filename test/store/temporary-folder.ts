import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Temporary folders for database files, removed together at the end of a test file. */
export function createTemporaryFolders(): { databasePath(name?: string): string; removeAll(): void } {
  const folders: string[] = [];
  return {
    databasePath(name = 'keel.db') {
      const folder = mkdtempSync(join(tmpdir(), 'keel-store-'));
      folders.push(folder);
      return join(folder, name);
    },
    removeAll() {
      for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
    },
  };
}
