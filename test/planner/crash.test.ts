import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStore, validateJournal } from '../../src/store/index.ts';
import type { SessionEvent } from '../../src/spec/index.ts';
import { planTimeline } from './planner-fixtures.ts';

const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));
const childPath = fileURLToPath(new URL('./planner-crash-child.ts', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'keel-planner-crash-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const sessionId = 'ses_planner_crash';

function runProcess(mode: 'start' | 'resume') {
  const outcome = spawnSync(process.execPath, ['--import', 'tsx', childPath, mode, join(scratch, 'keel.db'), scratch, sessionId], { cwd: repositoryRoot, encoding: 'utf8', timeout: 60_000 });
  return { killed: outcome.signal === 'SIGKILL', status: outcome.status, stdout: outcome.stdout, stderr: outcome.stderr };
}

async function journals(): Promise<Map<string, SessionEvent[]>> {
  const store = createSqliteStore({ path: join(scratch, 'keel.db') });
  const all = new Map<string, SessionEvent[]>();
  try {
    for (const summary of await store.journal.listSessions({ limit: 100 })) {
      const events: SessionEvent[] = [];
      for await (const event of store.journal.read(summary.sessionId)) events.push(event);
      all.set(summary.sessionId, events);
    }
  } finally {
    await store.close();
  }
  return all;
}

describe('a planner session killed with SIGKILL in the middle of its graph', () => {
  it('resumes from the journal: the finished step is not run again, the running one resumes its child, the plan is not remade', async () => {
    mkdirSync(scratch, { recursive: true });
    const first = runProcess('start');
    expect(first.killed, first.stderr.slice(-2_000)).toBe(true);
    const killedAt = (await journals()).get(sessionId) ?? [];
    expect(planTimeline(killedAt)).toEqual(expect.arrayContaining(['plan-proposed', 'plan-step-start fast', 'plan-step-end fast', 'plan-step-start slow']));
    expect(planTimeline(killedAt)).not.toContain('plan-step-end slow');

    const resumed = runProcess('resume');
    expect(resumed.status, resumed.stderr.slice(-2_000)).toBe(0);
    expect(resumed.stdout).toContain('RESULT {"status":"completed","output":"joined","error":null}');

    const sessions = await journals();
    for (const [id, events] of sessions) expect(validateJournal(events).problems, id).toEqual([]);
    const plan = sessions.get(sessionId) ?? [];
    const timeline = planTimeline(plan);
    // One plan, every step started and ended once: the finished step was not re-run and nothing was planned again.
    for (const entry of ['plan-proposed', 'plan-step-start fast', 'plan-step-end fast', 'plan-step-start slow', 'plan-step-end slow', 'plan-step-start join', 'plan-step-end join', 'session-end']) {
      expect(timeline.filter((each) => each === entry), entry).toHaveLength(1);
    }
    expect(plan.filter((event) => event.type === 'child-start')).toHaveLength(3);
    // Four sessions: the plan's and one child per step; the fast step's child ran once, start to end.
    expect(sessions.size).toBe(4);
    const fastChild = plan.find((event) => event.type === 'plan-step-start' && event.stepId === 'fast');
    const fastEvents = sessions.get(fastChild?.type === 'plan-step-start' ? fastChild.childSessionId : '') ?? [];
    expect(fastEvents.filter((event) => event.type === 'session-start' || event.type === 'session-end')).toHaveLength(2);
    // The tool ran for fast once; for slow twice (killed, then again on resume) with the same idempotency key.
    const attempts = existsSync(join(scratch, 'attempts.log')) ? readFileSync(join(scratch, 'attempts.log'), 'utf8').trim().split('\n') : [];
    expect(attempts.filter((line) => line.startsWith('fast '))).toHaveLength(1);
    const slow = attempts.filter((line) => line.startsWith('slow '));
    expect(slow).toHaveLength(2);
    expect(new Set(slow).size).toBe(1);
  }, 60_000);
});
