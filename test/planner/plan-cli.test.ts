import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../src/store/index.ts';
import type { SessionEvent } from '../../src/spec/index.ts';
import { buildTraceTree, renderTraceTree } from '../../src/tracing/index.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'keel-plan-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function keel(args: readonly string[]) {
  return spawnSync(process.execPath, [join(root, 'bin', 'keel.js'), ...args, '--db', join(scratch, 'keel.db')], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ANTHROPIC_API_KEY: '', OPENAI_API_KEY: '', KEEL_MODEL: '', KEEL_DB: '' },
  });
}

function lastJson(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

describe('keel plan, across processes', () => {
  it('run stops at the plan; plan show --json gives the plan; approve --edit runs the edited plan; trace shows it', async () => {
    const run = keel(['run', 'test/planner/fixtures/plan-agent.ts', 'What changed?', '--model', 'scripted:test/planner/fixtures/plan-model.json', '--json']);
    expect(run.status, run.stderr).toBe(0);
    const suspended = lastJson(run.stdout);
    expect(suspended).toMatchObject({ status: 'awaiting-approval', pendingApprovals: [{ callId: 'plan-r1', tool: 'plan', rule: 'planner:approval' }] });
    const sessionId = String(suspended.sessionId);

    const show = keel(['plan', 'show', sessionId, '--json']);
    expect(show.status, show.stderr).toBe(0);
    const shown = lastJson(show.stdout) as { waitingForApproval: boolean; plan: { steps: { id: string; dependsOn: string[] }[] }; steps: Record<string, string> };
    expect(shown.waitingForApproval).toBe(true);
    expect(shown.plan.steps.map((step) => step.id)).toEqual(['fetch', 'delete', 'report']);
    expect(shown.steps.fetch).toBe('waits for the plan approval');

    // The person drops the destructive step and approves the rest.
    const edited = { ...shown, plan: { ...shown.plan, steps: shown.plan.steps.filter((step) => step.id !== 'delete').map((step) => (step.id === 'report' ? { ...step, dependsOn: ['fetch'] } : step)) } };
    writeFileSync(join(scratch, 'plan.json'), JSON.stringify(edited));
    const approve = keel(['plan', 'approve', sessionId, '--edit', join(scratch, 'plan.json'), '--as', 'maria', '--json']);
    expect(approve.status, approve.stderr).toBe(0);
    expect(lastJson(approve.stdout)).toMatchObject({ sessionId, status: 'completed' });

    const store = createSqliteStore({ path: join(scratch, 'keel.db') });
    try {
      const events: SessionEvent[] = [];
      for await (const event of store.journal.read(sessionId)) events.push(event);
      const trace = renderTraceTree(buildTraceTree(events));
      expect(trace).toContain('plan revision 1: Answer  [2 steps; approval edited by maria]');
      expect(trace).toMatch(/step report ← fetch {2}agent=cli-planner/);
      expect(trace).not.toContain('step delete');
    } finally {
      await store.close();
    }
  }, 90_000);
});
