import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { runBackupCommand } from '../../src/cli/backup-command.ts';
import { runCheckDatabaseCommand } from '../../src/cli/check-db-command.ts';
import { createSqliteJournal } from '../../src/store/index.ts';
import type { DatabaseCheckReport } from '../../src/store/index.ts';
import { sampleSession } from '../../src/testing/contracts/journal-samples.ts';
import { createTemporaryFolders } from './temporary-folder.ts';

const folders = createTemporaryFolders();
afterAll(() => folders.removeAll());

async function databaseWithSession(): Promise<string> {
  const path = folders.databasePath();
  const journal = createSqliteJournal({ path });
  await journal.append('ses_a', sampleSession('ses_a'), 0);
  await journal.close();
  return path;
}

function capture(): { lines: string[]; out: (line: string) => void } {
  const lines: string[] = [];
  return { lines, out: (line) => lines.push(line) };
}

describe('keel backup and keel check-db handlers', () => {
  it('back up, then check the live database against the backup heads: 0 while whole, 1 once a tail is lost', async () => {
    const database = await databaseWithSession();
    const destination = join(dirname(database), 'backup.db');
    const backup = capture();
    expect(await runBackupCommand({ database, destination, out: backup.out })).toBe(0);
    expect(backup.lines[0]).toMatch(/1 session, \d+ events/);

    const check = capture();
    expect(await runCheckDatabaseCommand({ database, json: false, expectHeads: `${destination}.heads.json`, out: check.out })).toBe(0);
    expect(check.lines[0]).toMatch(/^OK: /);

    const raw = new Database(database);
    const last = sampleSession('ses_a').length;
    raw.prepare("DELETE FROM events WHERE session_id = 'ses_a' AND seq = ?").run(last);
    raw.prepare("UPDATE sessions SET last_seq = ?, head_hash = (SELECT hash FROM events WHERE session_id = 'ses_a' AND seq = ?) WHERE session_id = 'ses_a'").run(last - 1, last - 1);
    raw.close();
    const json = capture();
    expect(await runCheckDatabaseCommand({ database, json: true, expectHeads: `${destination}.heads.json`, out: json.out })).toBe(1);
    const report = JSON.parse(json.lines[0]!) as DatabaseCheckReport;
    expect(report.findings).toEqual([expect.objectContaining({ kind: 'tail-lost', sessionId: 'ses_a', seq: last })]);
  });

  it('create no database: a missing one is an error (exit 2 for check-db, 1 for backup)', async () => {
    const database = join(dirname(folders.databasePath()), 'absent.db');
    const check = capture();
    expect(await runCheckDatabaseCommand({ database, json: false, out: check.out })).toBe(2);
    expect(check.lines.join('\n')).toContain(database);
    const backup = capture();
    expect(await runBackupCommand({ database, destination: join(dirname(database), 'copy.db'), out: backup.out })).toBe(1);
    expect(existsSync(database)).toBe(false);
    expect(existsSync(join(dirname(database), 'copy.db'))).toBe(false);
  });

  it('refuses a heads file that is not one', async () => {
    const database = await databaseWithSession();
    const check = capture();
    expect(await runCheckDatabaseCommand({ database, json: false, expectHeads: database, out: check.out })).toBe(2);
    expect(check.lines.join('\n')).toMatch(/journal heads file/);
  });
});
