import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defineAgent } from '../../src/loop/index.ts';
import { statusFromEvents } from '../../src/runtime/session-status.ts';
import { answer, plannerModel, planStep, planTimeline, scratchKeel } from './planner-fixtures.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const agent = defineAgent({ name: 'analyst', instructions: 'Analyse sales.', model: 'planner', streaming: false, planner: { approval: true } });

describe('plan approval', () => {
  it('waits for a person before any step runs; an edited plan is validated, journaled and is the one that runs', async () => {
    const model = plannerModel({
      plans: [{ goal: 'Report on sales', steps: [planStep('fetch'), planStep('delete-old', ['fetch']), planStep('report', ['delete-old'])] }],
      steps: { fetch: [answer('42 orders')], report: [answer('Sales: 42 orders')] },
    });
    const scratch = scratchKeel(model);
    cleanups.push(scratch.cleanup);
    const { keel } = scratch;

    const first = await keel.run(agent, 'Report on last week’s sales.').result;
    expect(first.status).toBe('awaiting-approval');
    expect(first.pendingApprovals).toEqual([expect.objectContaining({ callId: 'plan-r1', tool: 'plan', rule: 'planner:approval' })]);
    let events = await keel.events(first.sessionId);
    expect(planTimeline(events)).toEqual(['plan-proposed']);
    expect(events.some((event) => event.type === 'child-start')).toBe(false);
    // Status views (keel sessions, keel pending) say what it waits for.
    const view = await statusFromEvents({ journal: keel.journal, now: Date.now }, events);
    expect(view).toMatchObject({ status: 'waiting-approval', waiting: [{ callId: 'plan-r1', tool: 'plan', rule: 'planner:approval' }] });

    // An edit that names a missing dependency is refused and journals nothing.
    await expect(keel.decidePlan(agent, first.sessionId, { approved: true, approver: 'dana', editedPlan: { goal: 'x', steps: [planStep('report', ['nowhere'])] } })).rejects.toMatchObject({
      code: 'invalid-argument',
      message: expect.stringContaining('"report" depends on "nowhere"'),
    });
    expect(planTimeline(await keel.events(first.sessionId))).toEqual(['plan-proposed']);

    // The person removes the destructive step; the edited plan runs.
    const edited = { goal: 'Report on sales', steps: [planStep('fetch'), planStep('report', ['fetch'])] };
    writeFileSync(join(scratch.directory, 'plan.json'), JSON.stringify(edited));
    const run = await keel.decidePlan(agent, first.sessionId, { approved: true, approver: 'dana', reason: 'no deletes', editedPlan: edited });
    const result = await run.result;
    expect(result).toMatchObject({ status: 'completed', output: 'Sales: 42 orders' });
    events = await keel.events(first.sessionId);
    expect(planTimeline(events)).toEqual(['plan-proposed', 'plan-approval', 'plan-step-start fetch', 'plan-step-end fetch', 'plan-step-start report', 'plan-step-end report', 'session-end']);
    expect(events.find((event) => event.type === 'plan-approval')).toMatchObject({ decision: 'edited', approver: 'dana', reason: 'no deletes', plan: { steps: [{ id: 'fetch' }, { id: 'report', dependsOn: ['fetch'] }] } });
    // The report step saw its input (the fetch step's output) and nothing of the deleted step.
    expect(model.stepTasks.find((task) => task.includes('Your step (report)'))).toContain('<<<result of step fetch>>>\n42 orders');
    await expect(keel.decidePlan(agent, first.sessionId, { approved: true, approver: 'dana' })).rejects.toMatchObject({ code: 'session-finished' });
  });

  it('a rejected plan ends the session with approval-rejected and runs nothing', async () => {
    const model = plannerModel({ plans: [{ goal: 'g', steps: [planStep('only')] }], steps: {} });
    const scratch = scratchKeel(model);
    cleanups.push(scratch.cleanup);
    const { keel } = scratch;
    const first = await keel.run(agent, 'Do it.').result;
    const rejected = await (await keel.decidePlan(agent, first.sessionId, { approved: false, approver: 'dana', reason: 'too risky' })).result;
    expect(rejected).toMatchObject({ status: 'failed', error: { code: 'approval-rejected', message: expect.stringContaining('too risky') } });
    expect(planTimeline(await keel.events(first.sessionId))).toEqual(['plan-proposed', 'plan-approval', 'session-end']);
  });
});
