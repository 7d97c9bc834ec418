import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../src/store/index.ts';
import type { SessionEvent } from '../../src/spec/events.ts';
import { keel, lastJson, startKeel } from './run-cli.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-status-cli-'));
// A space and a quote: the printed hints must quote the path for the shell.
const database = join(scratch, "team's db.db");
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const ids = { waiting: '', failed: '', cancelled: '', interrupted: 'ses_copied_interrupted' };

/** What a crash leaves: the cancelled session's events up to its tool request, under a new id, with no end. */
async function writeInterruptedCopy(): Promise<void> {
  const store = createSqliteStore({ path: database });
  try {
    const events: SessionEvent[] = [];
    for await (const event of store.journal.read(ids.cancelled)) events.push(event);
    const cut = events.findIndex((event) => event.type === 'tool-request');
    expect(cut).toBeGreaterThan(0);
    await store.journal.append(ids.interrupted, events.slice(0, cut + 1).map((event) => ({ ...event, sessionId: ids.interrupted }) as SessionEvent), 0);
  } finally {
    await store.close();
  }
}

describe('session status, pending work and interruption from the command line', () => {
  beforeAll(async () => {
    const waiting = keel(['run', 'test/fixtures/agents/refund-agent.ts', '--model', 'scripted:test/fixtures/agents/refund-model.json', '--db', database], { env: { REFUND_LEDGER: join(scratch, 'ledger.txt') } });
    expect(waiting.status, waiting.stderr).toBe(0);
    ids.waiting = /Session (ses_\w+) is waiting for approval/.exec(waiting.stdout)?.[1] ?? '';
    expect(ids.waiting).not.toBe('');
    // The hint printed is the command to paste: the binary, the call, and the database in use, quoted.
    expect(waiting.stdout).toContain(`approve: keel approve ${ids.waiting} toolu_refund --db '${database.replaceAll("'", `'\\''`)}'`);

    const failed = keel(['run', 'test/cli/fixtures/slow-agent.ts', '--model', 'scripted:test/cli/fixtures/short-script-model.json', '--json', '--db', database]);
    expect(failed.status).toBe(1);
    ids.failed = String(lastJson(failed.stdout).sessionId);
  }, 120_000);

  it('Ctrl-C cancels the running session cleanly and exits 130', async () => {
    const child = startKeel(['run', 'test/cli/fixtures/slow-agent.ts', '--model', 'scripted:test/cli/fixtures/slow-model.json', '--json', '--db', database]);
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      // The tool is running once its request is printed: interrupt it there, once (a second Ctrl-C exits at once).
      if (!interrupted && stderr.includes('→ wait')) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    const exited = once(child, 'exit') as Promise<[number | null]>;
    // Whatever happens, the child does not outlive the test.
    const guard = setTimeout(() => child.kill('SIGKILL'), 100_000);
    const [code] = await exited.finally(() => clearTimeout(guard));
    expect(code, stderr).toBe(130);
    expect(stderr).toContain('cancelling the session');
    const summary = lastJson(stdout);
    expect(summary.status).toBe('cancelled');
    ids.cancelled = String(summary.sessionId);
  }, 120_000);

  it('keel sessions shows the derived status of each, and --status filters by it', async () => {
    await writeInterruptedCopy();
    const all = keel(['sessions', '--json', '--db', database]);
    expect(all.status, all.stderr).toBe(0);
    const statuses = Object.fromEntries((JSON.parse(all.stdout) as { sessionId: string; status: string }[]).map((entry) => [entry.sessionId, entry.status]));
    expect(statuses).toEqual({ [ids.waiting]: 'waiting-approval', [ids.failed]: 'failed', [ids.cancelled]: 'cancelled', [ids.interrupted]: 'interrupted' });

    const waiting = keel(['sessions', '--status', 'waiting-approval', '--db', database]);
    expect(waiting.status, waiting.stderr).toBe(0);
    expect(waiting.stdout.trim().split('\n')).toHaveLength(1);
    expect(waiting.stdout).toMatch(new RegExp(`^${ids.waiting} .* waiting-approval \\(1 call\\)`));
  });

  it('keel pending lists the calls waiting for a person and the interrupted sessions with the command that resumes them', () => {
    const result = keel(['pending', '--json', '--db', database]);
    expect(result.status, result.stderr).toBe(0);
    const pending = JSON.parse(result.stdout) as { waitingApproval: { sessionId: string; waiting: { callId: string }[]; approve: string[] }[]; interrupted: { sessionId: string; resume: string }[] };
    expect(pending.waitingApproval.map((entry) => entry.sessionId)).toEqual([ids.waiting]);
    expect(pending.waitingApproval[0]?.waiting.map((call) => call.callId)).toEqual(['toolu_refund']);
    expect(pending.interrupted).toEqual([expect.objectContaining({ sessionId: ids.interrupted, resume: expect.stringMatching(new RegExp(`^keel resume ${ids.interrupted} --db '.*team'\\\\''s db\\.db'$`)) })]);
  });

  it('keel trace of a session waiting for approval says so, with the calls', () => {
    const result = keel(['trace', ids.waiting, '--db', database]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout.split('\n')[0]).toContain('status=waiting-approval');
    expect(result.stdout).toContain('Waiting for approval:');
    expect(result.stdout).toContain(`keel approve ${ids.waiting} toolu_refund`);
  });

  it('keel resume of a cancelled session reports session-finished (exit 1) and runs nothing', () => {
    const result = keel(['resume', ids.cancelled, '--db', database]);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`keel: session-finished: Session ${ids.cancelled} has already ended (cancelled)`);
  });
});
