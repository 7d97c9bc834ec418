import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.ts';
import { createPostgresAuditLog, createPostgresStore, openPostgresDatabase, checkPostgresDatabase } from '../../../src/store/postgres/index.ts';
import type { JournalHeads } from '../../../src/store/journal-heads.ts';
import { sampleAuditEntry } from '../../../src/testing/contracts/audit-log.contract.ts';
import { sampleSession } from '../../../src/testing/contracts/journal-samples.ts';
import { startPostgresServer, type PostgresServerProcess } from '../../helpers/postgres-server.ts';

// `keel check-db`, `keel audit` and `keel backup` against a real PostgreSQL server, through the command line; each
// test gets a schema of its own.
let server: PostgresServerProcess;
let admin: pg.Client;
const scratch = mkdtempSync(join(tmpdir(), 'keel-pg-ops-'));
beforeAll(async () => {
  server = await startPostgresServer();
  admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
}, 60_000);
afterAll(async () => {
  await admin?.end();
  await server?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

async function keel(args: readonly string[], env: Record<string, string> = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(args, { env, cwd: scratch, out: (line) => out.push(line), err: (line) => err.push(line) });
  return { status, stdout: out.join('\n'), stderr: err.join('\n') };
}

/** Two sessions in the journal and the audit records of their tool calls (one each), in `schema`. */
async function populate(schema: string): Promise<void> {
  const store = createPostgresStore({ url: server.url, schema, maxConnections: 2 });
  await store.journal.append('ses_a', sampleSession('ses_a'), 0);
  await store.journal.append('ses_b', sampleSession('ses_b'), 0);
  await store.close();
  const audit = createPostgresAuditLog({ url: server.url, schema, maxConnections: 1 });
  for (const sessionId of ['ses_a', 'ses_b']) await audit.append(sampleAuditEntry(0, { sessionId, callId: 'toolu_01', tool: 'lookup_order', decision: 'allow' }));
  await audit.close();
}

describe('keel check-db on PostgreSQL', () => {
  it('finds every session whole, then names the event changed behind Keel’s back and the tail lost since a heads file', async () => {
    await populate('check_db');
    const env = { KEEL_DATABASE_URL: server.url, KEEL_DATABASE_SCHEMA: 'check_db' };
    const sound = await keel(['check-db', '--json'], env);
    expect(sound.status, sound.stderr).toBe(0);
    const report = JSON.parse(sound.stdout) as { ok: boolean; sessions: number; events: number; path: string };
    expect(report).toMatchObject({ ok: true, sessions: 2, events: 2 * sampleSession('ses_a').length });
    expect(report.path).toContain('schema check_db');
    expect(report.path).not.toContain('postgres@');

    const database = openPostgresDatabase({ url: server.url, schema: 'check_db', maxConnections: 1 });
    const heads = (await database.query<{ session_id: string; last_seq: string; head_hash: string }>('SELECT session_id, last_seq, head_hash FROM sessions ORDER BY session_id')).rows;
    const headsFile = join(scratch, 'heads.json');
    const taken: JournalHeads = { format: 'keel-journal-heads', version: 1, takenAt: Date.now(), sessions: heads.map((row) => ({ sessionId: row.session_id, lastSeq: Number(row.last_seq), headHash: row.head_hash })) };
    writeFileSync(headsFile, JSON.stringify(taken));
    expect((await keel(['check-db', '--expect-heads', headsFile], env)).status).toBe(0);

    await admin.query(`UPDATE check_db.events SET body = body || ' ' WHERE session_id = 'ses_b' AND seq = 2`);
    const changed = await keel(['check-db', '--database-url', server.url], { KEEL_DATABASE_SCHEMA: 'check_db' });
    expect(changed.status).toBe(1);
    expect(changed.stdout).toContain('PROBLEMS');
    expect(changed.stdout).toContain('chain-broken: Session ses_b: event 2 does not match its hash');

    const lastSeq = Number(heads[0]?.last_seq);
    await admin.query(`DELETE FROM check_db.events WHERE session_id = 'ses_a' AND seq = $1`, [lastSeq]);
    await admin.query(`UPDATE check_db.sessions SET last_seq = last_seq - 1 WHERE session_id = 'ses_a'`);
    const findings = (await checkPostgresDatabase(database, { expectHeads: taken })).findings;
    expect(findings.map((finding) => [finding.kind, finding.sessionId])).toEqual(
      expect.arrayContaining([
        ['chain-broken', 'ses_b'],
        ['head-mismatch', 'ses_a'],
        ['tail-lost', 'ses_a'],
      ]),
    );
    await database.close();
  });

  it('reports a schema without a journal, and a server it cannot reach, as problems rather than creating tables', async () => {
    const empty = await keel(['check-db'], { KEEL_DATABASE_URL: server.url, KEEL_DATABASE_SCHEMA: 'nothing_here' });
    expect(empty.status).toBe(1);
    expect(empty.stdout).toContain('not-a-journal');
    const created = await admin.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'nothing_here'`);
    expect(created.rows).toHaveLength(0);
    const down = await keel(['check-db', '--database-url', 'postgres://postgres@127.0.0.1:1/postgres']);
    expect(down.status).toBe(2);
    expect(down.stderr).toContain('Cannot reach the PostgreSQL database postgres on 127.0.0.1:1');
  });
});

describe('keel audit on PostgreSQL', () => {
  it('verifies the chain and the journal cross-check, prints the head, and names the first record changed', async () => {
    await populate('audit_ops');
    const env = { KEEL_DATABASE_URL: server.url, KEEL_DATABASE_SCHEMA: 'audit_ops' };
    const intact = await keel(['audit', 'verify'], env);
    expect(intact.status, intact.stderr).toBe(0);
    expect(intact.stdout).toContain('audit log intact: 2 records;');
    expect(intact.stdout).toContain('2 journaled tool results matched');
    const head = await keel(['audit', 'head'], env);
    expect(head.stdout).toMatch(/^2:[0-9a-f]{64}$/);
    expect((await keel(['audit', 'verify', '--expect-head', head.stdout], env)).status).toBe(0);
    const listed = await keel(['audit', 'list', '--json'], env);
    expect(listed.stdout.split('\n').map((line) => JSON.parse(line) as { seq: number; sessionId: string })).toMatchObject([
      { seq: 1, sessionId: 'ses_a' },
      { seq: 2, sessionId: 'ses_b' },
    ]);

    // The append-only trigger guards against mistakes; someone who drops it is what the chain is for.
    await admin.query('ALTER TABLE audit_ops.audit_records DISABLE TRIGGER USER');
    await admin.query(`UPDATE audit_ops.audit_records SET decision = 'deny' WHERE seq = 1`);
    const tampered = await keel(['audit', 'verify', '--database-url', server.url], { KEEL_DATABASE_SCHEMA: 'audit_ops' });
    expect(tampered.status).toBe(1);
    expect(tampered.stderr).toContain('first bad record is 1');
  });

  it('finds journaled tool results the audit log has no record of, and refuses a schema without an audit log', async () => {
    await populate('audit_cross');
    const store = createPostgresStore({ url: server.url, schema: 'audit_cross', maxConnections: 1 });
    await store.journal.append('ses_c', sampleSession('ses_c'), 0);
    await store.close();
    const disagree = await keel(['audit', 'verify', '--json'], { KEEL_DATABASE_URL: server.url, KEEL_DATABASE_SCHEMA: 'audit_cross' });
    expect(disagree.status).toBe(1);
    const verification = JSON.parse(disagree.stdout) as { ok: boolean; crossCheck: { ok: boolean; mismatches: { sessionId: string; problem: string }[] } };
    expect(verification.ok).toBe(true);
    expect(verification.crossCheck.mismatches).toEqual([expect.objectContaining({ sessionId: 'ses_c', problem: expect.stringContaining('no record of it') })]);

    const none = await keel(['audit', 'verify'], { KEEL_DATABASE_URL: server.url, KEEL_DATABASE_SCHEMA: 'no_audit' });
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('has no Keel audit log');
  });
});

describe('keel backup on PostgreSQL', () => {
  it('refuses with the PostgreSQL tools to use, naming the database without its password', async () => {
    const refused = await keel(['backup', join(scratch, 'copy.db'), '--database-url', 'postgres://keel:secret@db.internal:5432/keel']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('pg_dump --schema=public');
    expect(refused.stderr).toContain('pg_basebackup');
    expect(refused.stderr).not.toContain('secret');
  });
});
