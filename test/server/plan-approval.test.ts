import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineAgent } from '../../src/loop/index.ts';
import { answer, plannerModel, planStep } from '../planner/planner-fixtures.ts';
import { eventually, startHarness } from './server-harness.ts';
import type { Harness } from './server-harness.ts';

const analyst = defineAgent({ name: 'analyst', instructions: 'Analyse sales.', model: 'planner', streaming: false, planner: { approval: true } });
let harness: Harness;

beforeAll(async () => {
  const model = plannerModel({
    plans: [{ goal: 'Report on sales', steps: [planStep('fetch'), planStep('delete-old', ['fetch']), planStep('report', ['delete-old'])] }],
    steps: { fetch: [answer('42 orders')], report: [answer('Sales: 42 orders')] },
  });
  harness = await startHarness({ keel: { models: { planner: model } }, server: { agents: [analyst] } });
});
afterAll(async () => {
  await harness?.close();
});

describe('plan approval over HTTP', () => {
  it('shows the plan that waits, and runs the plan a person edited with an approve key', async () => {
    const started = (await harness.request('/v1/sessions', { body: { agent: 'analyst', task: 'Report on sales.' } })).body as { id: string; status: string };
    const waiting = await eventually(async () => (await harness.request(`/v1/sessions/${started.id}`)).body as { status: string }, (view) => view.status === 'waiting-approval');
    expect(waiting.status).toBe('waiting-approval');
    const plan = (await harness.request(`/v1/sessions/${started.id}/plan`)).body as { revision: number; waitingForApproval: boolean; plan: { steps: { id: string }[] } };
    expect(plan).toMatchObject({ revision: 1, waitingForApproval: true });
    expect(plan.plan.steps.map((step) => step.id)).toEqual(['fetch', 'delete-old', 'report']);

    const reader = await harness.key('default', ['read']);
    expect((await harness.request(`/v1/sessions/${started.id}/plan-approval`, { key: reader, body: { decision: 'approve' } })).status).toBe(403);
    const approver = await harness.key('default', ['approve', 'read']);
    const edited = { goal: 'Report on sales', steps: [planStep('fetch'), planStep('report', ['fetch'])] };
    const decided = await harness.request(`/v1/sessions/${started.id}/plan-approval`, { key: approver, body: { decision: 'approve', editedPlan: edited, reason: 'no deletes' } });
    expect(decided.status).toBe(200);
    const done = await eventually(async () => (await harness.request(`/v1/sessions/${started.id}`)).body as { status: string; output: string | null }, (view) => view.status === 'completed');
    expect(done.output).toBe('Sales: 42 orders');
    const events = ((await harness.request(`/v1/sessions/${started.id}/journal`)).body as { events: { type: string; approver?: string; decision?: string }[] }).events;
    expect(events.find((event) => event.type === 'plan-approval')).toMatchObject({ decision: 'edited', approver: expect.stringContaining('api-key:') });
    const again = await harness.request(`/v1/sessions/${started.id}/plan-approval`, { key: approver, body: { decision: 'approve' } });
    expect(again.status).toBe(409);
  });
});
