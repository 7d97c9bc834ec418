import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'keel-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function keel(args: readonly string[], env: Record<string, string | undefined> = {}) {
  const childEnv: Record<string, string | undefined> = { ...process.env, ANTHROPIC_API_KEY: undefined, OPENAI_API_KEY: undefined, KEEL_MODEL: undefined, KEEL_DB: undefined, ...env };
  for (const key of Object.keys(childEnv)) if (childEnv[key] === undefined) delete childEnv[key];
  return spawnSync(process.execPath, [join(root, 'bin', 'keel.js'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      ...(childEnv as NodeJS.ProcessEnv),
      KEEL_INCIDENT_DB: join(scratch, 'incident.db'),
      KEEL_INCIDENT_REPORTS: join(scratch, 'reports'),
    },
  });
}

describe('keel CLI', () => {
  const database = join(scratch, 'keel.db');
  let sessionId = '';

  it('run --json prints the summary as the last line and progress on stderr', () => {
    const result = keel(['run', 'examples/incident/agent.ts', '--model', 'scripted:examples/incident/model.json', '--json', '--db', database]);
    expect(result.status, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n');
    const summary = JSON.parse(lines[lines.length - 1] ?? '{}') as Record<string, unknown>;
    expect(Object.keys(summary).sort()).toEqual(['costUsd', 'sessionId', 'status', 'turns', 'usage']);
    expect(summary.status).toBe('completed');
    expect(summary.turns).toBeGreaterThanOrEqual(8);
    expect(summary.usage).toMatchObject({ inputTokens: expect.any(Number), outputTokens: expect.any(Number) });
    expect(typeof summary.costUsd).toBe('number');
    expect(result.stderr).toContain('turn 1');
    expect(result.stderr).toContain('✗ query_database');
    sessionId = String(summary.sessionId);
  });

  it('trace --json prints the tree with turns, model calls and tool calls', () => {
    const result = keel(['trace', sessionId, '--json', '--db', database]);
    expect(result.status, result.stderr).toBe(0);
    const tree = JSON.parse(result.stdout) as { sessionId: string; status: string; turns: { modelCalls: unknown[]; tools: { status: string }[] }[]; totals: { toolErrors: number } };
    expect(tree.sessionId).toBe(sessionId);
    expect(tree.status).toBe('completed');
    expect(tree.turns.every((turn) => turn.modelCalls.length === 1)).toBe(true);
    expect(tree.totals.toolErrors).toBe(1);
  });

  it('trace prints a readable tree with totals', () => {
    const result = keel(['trace', sessionId, '--db', database]);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/├── turn 1/);
    expect(result.stdout).toMatch(/Totals: turns=\d+/);
  });

  it('sessions lists the session', () => {
    const result = keel(['sessions', '--json', '--db', database]);
    const list = JSON.parse(result.stdout) as { sessionId: string; status: string }[];
    expect(list.map((entry) => entry.sessionId)).toContain(sessionId);
    expect(list.find((entry) => entry.sessionId === sessionId)?.status).toBe('completed');
  });

  it('resume of a completed session reports session-finished (exit 1) and does not re-print its answer', () => {
    const result = keel(['resume', sessionId, '--json', '--db', database]);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(`session-finished: Session ${sessionId} has already ended (completed)`);
  });

  it('without a model or API key it names both variables and --model', () => {
    const result = keel(['run', 'examples/incident/agent.ts', '--db', database]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('ANTHROPIC_API_KEY');
    expect(result.stderr).toContain('OPENAI_API_KEY');
    expect(result.stderr).toContain('--model');
  });

  it('reports unknown sessions, missing modules and unknown commands clearly', () => {
    const missing = keel(['trace', 'ses_nope', '--db', database]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain('session-not-found');
    const module = keel(['run', 'examples/nope.ts', '--db', database]);
    expect(module.status).toBe(2);
    expect(module.stderr).toContain('Agent module not found');
    const unknown = keel(['fly', '--db', database]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unknown command');
  });
});
