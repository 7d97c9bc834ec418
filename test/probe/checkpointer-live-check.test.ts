import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { backupDatabase, checkDatabase } from '../../src/store/index.ts';
import { startWriter, waitForAcks } from './checkpointer-processes.ts';
import type { Writer } from './checkpointer-processes.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-probe-checkpointer-live-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const busyCheckpoints = { intervalMs: 10, walLimitBytes: 1024 * 1024 };

async function withWriter(name: string, work: (path: string, writer: Writer) => Promise<void>): Promise<void> {
  const path = join(scratch, `${name}.db`);
  const writer = startWriter(path, join(scratch, `${name}.acks`), `${name}_`, { backgroundCheckpoints: busyCheckpoints, sessions: 3 });
  try {
    await waitForAcks(writer, 300);
    await work(path, writer);
  } finally {
    writer.child.kill('SIGKILL');
    await writer.exited;
  }
}

describe('keel backup and keel check-db on a database another process writes and checkpoints', () => {
  it('(holds) backupDatabase copies a consistent database whose heads the original still holds after the writer is killed', async () => {
    await withWriter('backup', async (path, writer) => {
      const result = await backupDatabase(path, join(scratch, 'backup.copy.db'));
      expect(result.check?.ok).toBe(true);
      expect(result.sessions).toBe(3);
      writer.child.kill('SIGKILL');
      await writer.exited;
      expect(checkDatabase(path, { expectHeads: result.headsPath }).ok).toBe(true);
    });
  }, 60_000);

  // Not the checkpointer's doing (the same with backgroundCheckpoints: false): checkDatabase reads the session rows
  // and each session's events in separate statements, outside one read transaction, so a session that another
  // process appends to between the two reads is reported as `head-mismatch` (an error: `keel check-db` exits 1)
  // on a healthy database. Reading inside one transaction (`database.transaction(() => checkOpenDatabase(...))`)
  // gives one snapshot; note that a long check then holds the log back from the checkpointer while it runs.
  it('checkDatabase(path), as keel check-db runs it, finds no error on a healthy database another process is writing', async () => {
    await withWriter('check', async (path) => {
      const errors: string[] = [];
      for (let round = 0; round < 10; round += 1) {
        const report = checkDatabase(path);
        errors.push(...report.findings.filter((finding) => finding.severity === 'error').map((finding) => `${finding.kind}: ${finding.message}`));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(errors).toEqual([]);
    });
  }, 60_000);
});
