import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { startPostgresServer, type PostgresServerProcess } from '../helpers/postgres-server.ts';
import { root } from './run-cli.ts';

// The CLI on PostgreSQL, chosen by KEEL_DATABASE_URL alone. Each command opens and closes its own pool, as separate
// processes would; they run in this process to keep the file fast.
let server: PostgresServerProcess;
const scratch = mkdtempSync(join(tmpdir(), 'keel-pg-cli-'));
const ledger = join(scratch, 'ledger.txt');
const previousLedger = process.env.REFUND_LEDGER;
beforeAll(async () => {
  server = await startPostgresServer();
  process.env.REFUND_LEDGER = ledger;
}, 60_000);
afterAll(async () => {
  if (previousLedger === undefined) delete process.env.REFUND_LEDGER;
  else process.env.REFUND_LEDGER = previousLedger;
  await server.stop();
  rmSync(scratch, { recursive: true, force: true });
});

async function keel(args: readonly string[], env: Record<string, string>): Promise<{ status: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const status = await main(args, { env: { ...env, REFUND_LEDGER: ledger }, cwd: root, out: (line) => out.push(line), err: (line) => err.push(line) });
  return { status, stdout: out.join('\n'), stderr: err.join('\n') };
}

function lastJson(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

describe('keel with KEEL_DATABASE_URL', () => {
  it('runs, lists, approves and traces a session kept in PostgreSQL', async () => {
    const env = { KEEL_DATABASE_URL: server.url, KEEL_DATABASE_SCHEMA: 'cli' };
    const run = await keel(['run', 'test/fixtures/agents/refund-agent.ts', '--model', 'scripted:test/fixtures/agents/refund-model.json', '--json'], env);
    expect(run.status, run.stderr).toBe(0);
    const suspended = lastJson(run.stdout);
    expect(suspended.status).toBe('awaiting-approval');
    const sessionId = String(suspended.sessionId);

    const listed = await keel(['sessions', '--json'], env);
    expect(listed.status, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ sessionId, status: 'waiting-approval' })]);

    const approve = await keel(['approve', sessionId, 'toolu_refund', '--as', 'maria', '--json'], env);
    expect(approve.status, approve.stderr).toBe(0);
    expect(lastJson(approve.stdout)).toMatchObject({ sessionId, status: 'completed' });
    expect(readFileSync(ledger, 'utf8').trim().split('\n')).toHaveLength(1);

    const trace = await keel(['trace', sessionId, '--json'], env);
    expect(trace.status, trace.stderr).toBe(0);
    expect(JSON.parse(trace.stdout)).toMatchObject({ sessionId });

    const missing = await keel(['trace', 'ses_unknown'], env);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/No session ses_unknown in the PostgreSQL database postgres on 127\.0\.0\.1:\d+ \(schema cli\)/);
  });

  it('uses the SQLite file named by --db even when KEEL_DATABASE_URL is set', async () => {
    const listed = await keel(['sessions', '--json', '--db', join(scratch, 'empty.db')], { KEEL_DATABASE_URL: server.url });
    expect(listed.stderr).toMatch(/No Keel database at .*empty\.db/);
  });
});
