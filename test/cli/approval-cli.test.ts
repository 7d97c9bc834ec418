import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'keel-approve-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function keel(args: readonly string[]) {
  return spawnSync(process.execPath, [join(root, 'bin', 'keel.js'), ...args, '--db', join(scratch, 'keel.db')], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, REFUND_LEDGER: join(scratch, 'ledger.txt'), ANTHROPIC_API_KEY: '', OPENAI_API_KEY: '' },
  });
}

function lastJson(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

describe('approval from the command line, across processes', () => {
  it('an irreversible call suspends the session; approve with edited arguments in a new process finishes it', () => {
    const run = keel(['run', 'test/fixtures/agents/refund-agent.ts', '--model', 'scripted:test/fixtures/agents/refund-model.json', '--json']);
    expect(run.status, run.stderr).toBe(0);
    const suspended = lastJson(run.stdout);
    expect(suspended.status).toBe('awaiting-approval');
    expect(suspended.pendingApprovals).toEqual([{ callId: 'toolu_refund', tool: 'refund', input: { order: 'o-17', amount: 120 }, rule: 'risk:irreversible', reason: expect.any(String) }]);
    expect(() => readFileSync(join(scratch, 'ledger.txt'), 'utf8')).toThrow();

    const sessionId = String(suspended.sessionId);
    const reject = keel(['reject', sessionId, 'toolu_refund']);
    expect(reject.status).toBe(2);
    expect(reject.stderr).toContain('--reason');

    const approve = keel(['approve', sessionId, 'toolu_refund', '--input', '{"order":"o-17","amount":100}', '--as', 'maria', '--json']);
    expect(approve.status, approve.stderr).toBe(0);
    expect(lastJson(approve.stdout)).toMatchObject({ sessionId, status: 'completed' });
    expect(readFileSync(join(scratch, 'ledger.txt'), 'utf8').trim().split(' ').slice(1)).toEqual(['o-17', '100']);

    const again = keel(['approve', sessionId, 'toolu_refund']);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/session-finished|approval-not-pending/);

    const audit = spawnSync(process.execPath, [join(root, 'bin', 'keel.js'), 'audit', 'list', '--json', '--db', join(scratch, 'keel.db')], { cwd: root, encoding: 'utf8' });
    const records = audit.stdout.trim().split('\n').map((line) => JSON.parse(line) as { tool: string; approver: string | null; inputEdited: boolean; decision: string });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ tool: 'refund', approver: 'maria', inputEdited: true, decision: 'ask' });
    const verify = spawnSync(process.execPath, [join(root, 'bin', 'keel.js'), 'audit', 'verify', '--db', join(scratch, 'keel.db')], { cwd: root, encoding: 'utf8' });
    expect(verify.status, verify.stderr).toBe(0);
  });
});
