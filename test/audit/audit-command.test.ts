import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { auditCommand } from '../../src/cli/audit-command.ts';
import { createSqliteAuditLog } from '../../src/store/index.ts';
import { createTemporaryFolders } from '../store/temporary-folder.ts';
import { appendSamples } from './audit-samples.ts';

const folders = createTemporaryFolders();
afterAll(() => folders.removeAll());

async function databaseWithRecords(count: number): Promise<string> {
  const path = folders.databasePath();
  const log = createSqliteAuditLog({ path });
  await appendSamples(log, count);
  await log.close();
  return path;
}

async function run(args: readonly string[], database: string, json = false) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await auditCommand(args, { database, json }, (line) => stdout.push(line), (line) => stderr.push(line));
  return { code, stdout, stderr };
}

describe('keel audit verify', () => {
  it('exits 0 and counts the records of an intact log', async () => {
    const database = await databaseWithRecords(4);
    const result = await run(['verify'], database);
    expect(result.code).toBe(0);
    expect(result.stdout).toHaveLength(1);
    expect(result.stdout[0]).toMatch(/^audit log intact: 4 records; head 4:[0-9a-f]{64}; unsigned \(no public key given\); 1 checkpoints matched$/);
    expect(result.stderr).toEqual([]);
  });

  it('exits 1 naming the first bad record and what is wrong', async () => {
    const database = await databaseWithRecords(4);
    const raw = new Database(database);
    raw.exec("DROP TRIGGER audit_records_append_only_update; UPDATE audit_records SET tool = 'delete_everything' WHERE seq = 2;");
    raw.close();
    const result = await run(['verify'], database);
    expect(result.code).toBe(1);
    expect(result.stdout).toEqual([]);
    expect(result.stderr[0]).toMatch(/^audit log tampered: first bad record is 2: record 2 was changed after it was written/);
  });

  it('prints the verification as JSON with --json', async () => {
    const database = await databaseWithRecords(2);
    const result = await run(['verify'], database, true);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout[0]!)).toMatchObject({ ok: true, records: 2, head: { seq: 2 } });
  });
});

describe('keel audit list', () => {
  it('prints every record, or one session\'s with --session', async () => {
    const database = await databaseWithRecords(5);
    const all = await run(['list'], database);
    expect(all.code).toBe(0);
    expect(all.stdout.map((block) => block.split('\n')[0]!.split('  ')[0])).toEqual(['#1', '#2', '#3', '#4', '#5']);
    expect(all.stdout[1]).toContain('support → issue_refund  ask (risk:irreversible) approved by ops@example.com');
    expect(all.stdout[2]).toContain('error tool-failed: attempt 2 failed');

    const odd = await run(['list', '--session', 'ses_odd'], database);
    expect(odd.stdout.map((block) => block.split('  ')[0])).toEqual(['#2', '#4']);
    expect(odd.stdout[1]).toContain('approved by ops@example.com (input edited)');
  });

  it('prints one JSON record per line with --json, from --from on', async () => {
    const database = await databaseWithRecords(3);
    const result = await run(['list', '--from', '2', '--json'], database);
    expect(result.stdout.map((line) => (JSON.parse(line) as { seq: number }).seq)).toEqual([2, 3]);
  });

  it('says so when there is nothing to list', async () => {
    const database = await databaseWithRecords(1);
    expect((await run(['list', '--session', 'ses_none'], database)).stdout).toEqual([`No audit records for session ses_none in ${database}.`]);
  });

  it('exits 1 when a record cannot be read', async () => {
    const database = await databaseWithRecords(2);
    const raw = new Database(database);
    raw.exec("DROP TRIGGER audit_records_append_only_update; UPDATE audit_records SET findings = '[' WHERE seq = 2;");
    raw.close();
    const result = await run(['list'], database);
    expect(result.code).toBe(1);
    expect(result.stderr[0]).toMatch(/^keel audit: audit-tampered: Audit record 2 in .* cannot be read \(its findings are not valid JSON\)/);
  });
});

describe('keel audit usage', () => {
  it('exits 2 on a missing or unknown subcommand, a bad --from, or a missing database', async () => {
    const database = await databaseWithRecords(1);
    expect(await run([], database)).toMatchObject({ code: 2, stderr: [expect.stringMatching(/missing subcommand[\s\S]*Usage: keel audit/)] });
    expect(await run(['erase'], database)).toMatchObject({ code: 2, stderr: [expect.stringMatching(/unknown subcommand "erase"/)] });
    expect(await run(['verify', 'extra'], database)).toMatchObject({ code: 2, stderr: [expect.stringMatching(/unexpected argument "extra"/)] });
    expect(await run(['list', '--from', '0'], database)).toMatchObject({ code: 2, stderr: [expect.stringMatching(/--from must be a record number of 1 or more/)] });
    expect(await run(['list', '--colour'], database)).toMatchObject({ code: 2 });
    const missing = `${folders.databasePath()}-absent`;
    expect(await run(['verify'], missing)).toMatchObject({ code: 2, stderr: [`keel audit: invalid-argument: No database at ${missing}: pass the path of an existing Keel database (--db PATH or KEEL_DB).`] });
  });

  it('takes --db from the arguments over the option', async () => {
    const database = await databaseWithRecords(3);
    const result = await run(['verify', '--db', database], `${database}-not-this-one`);
    expect(result.stdout[0]).toMatch(/^audit log intact: 3 records/);
  });
});
