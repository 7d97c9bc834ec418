import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupDatabase, checkDatabase, createSqliteJournal } from '../../src/store/index.ts';
import { sampleSession } from '../../src/testing/contracts/journal-samples.ts';
import type { SessionEvent } from '../../src/spec/index.ts';
import { createTemporaryFolders } from './temporary-folder.ts';

const folders = createTemporaryFolders();
afterAll(() => folders.removeAll());

// SQLite starts an online backup over whenever another connection writes the source between two of its steps. A copy
// made only in small steps under a writer that never pauses never ends (this test then times out); the backup must
// finish and be consistent.
describe('backupDatabase under a writer that never pauses', () => {
  it('finishes with a consistent copy while another connection writes between every step', async () => {
    const path = folders.databasePath();
    const journal = createSqliteJournal({ path });
    // Sessions whose task is 20 KB of random text: about 2,000 pages, so a copy of 100 pages a step needs many steps.
    const session = (id: string): SessionEvent[] => sampleSession(id).map((event) => (event.type === 'session-start' ? { ...event, input: randomBytes(10_000).toString('hex') } : event));
    for (let index = 0; index < 400; index += 1) await journal.append(`ses_${index}`, session(`ses_${index}`), 0);
    let writing = true;
    let written = 0;
    const writeBetweenSteps = async (): Promise<void> => {
      while (writing) {
        await journal.append(`ses_late_${written}`, session(`ses_late_${written}`), 0);
        written += 1;
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    const writes = writeBetweenSteps();
    try {
      const result = await backupDatabase(path, join(dirname(path), 'copy.db'));
      expect(result.check?.ok).toBe(true);
      expect(result.bytes).toBeGreaterThan(400 * 10_000);
    } finally {
      writing = false;
      await writes;
      await journal.close();
    }
    expect(written).toBeGreaterThan(0);
    expect(checkDatabase(path).ok).toBe(true);
  }, 60_000);
});
