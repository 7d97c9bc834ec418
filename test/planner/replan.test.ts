import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../../src/loop/index.ts';
import type { PlanStepCheckInput } from '../../src/loop/planner-options.ts';
import { defineTool } from '../../src/tools/index.ts';
import { answer, callTool, plannerModel, planStep, planTimeline, scratchKeel } from './planner-fixtures.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function setup(script: Parameters<typeof plannerModel>[0]) {
  const model = plannerModel(script);
  const scratch = scratchKeel(model);
  cleanups.push(scratch.cleanup);
  return { model, keel: scratch.keel };
}

const mustCite = ({ step, output }: PlanStepCheckInput) => (step.id.startsWith('draft') && !output.includes('[source]') ? { passed: false, reason: 'the draft cites no source' } : true);

describe('replanning', () => {
  it('a step that misses its criterion triggers a replan with the reason and what is done; finished steps are reused, not re-run', async () => {
    const { model, keel } = setup({
      plans: [
        { goal: 'Brief', steps: [planStep('gather'), planStep('draft', ['gather']), planStep('publish', ['draft'])] },
        { goal: 'Brief', steps: [planStep('gather'), planStep('draft-cited', ['gather']), planStep('publish', ['draft-cited'])] },
      ],
      steps: {
        gather: [answer('three facts')],
        draft: [answer('a brief without sources')],
        'draft-cited': [answer('a brief [source]')],
        publish: [answer('published: a brief [source]')],
      },
    });
    const agent = defineAgent({ name: 'writer', instructions: 'Write briefs.', model: 'planner', streaming: false, planner: { check: mustCite, maxReplans: 1 } });
    const result = await keel.run(agent, 'Write a brief.').result;
    expect(result).toMatchObject({ status: 'completed', output: 'published: a brief [source]' });

    const events = await keel.events(result.sessionId);
    expect(planTimeline(events)).toEqual([
      'plan-proposed',
      'plan-step-start gather',
      'plan-step-end gather',
      'plan-step-start draft',
      'plan-step-end draft',
      'plan-deviation draft',
      'replan',
      'plan-proposed',
      'plan-step-start draft-cited',
      'plan-step-end draft-cited',
      'plan-step-start publish',
      'plan-step-end publish',
      'session-end',
    ]);
    expect(events.find((event) => event.type === 'plan-deviation')).toMatchObject({ kind: 'criterion-missed', reason: expect.stringContaining('the draft cites no source') });
    expect(events.find((event) => event.type === 'replan')).toMatchObject({ fromRevision: 1, completed: ['gather'], replan: 1, maxReplans: 1 });
    // The replanning call was told why, what the plan was and what is finished, with the finished step's result.
    const replanPrompt = JSON.stringify(model.planning[1]?.messages);
    expect(replanPrompt).toContain('the draft cites no source');
    expect(replanPrompt).toContain('<<<result of step gather>>>\\nthree facts');
    // gather ran once (revision 1); revision 2 reused its result as draft-cited's input.
    expect(model.stepTasks.filter((task) => task.includes('Your step (gather)'))).toHaveLength(1);
    expect(model.stepTasks.find((task) => task.includes('Your step (draft-cited)'))).toContain('three facts');
  });

  it('stops at maxReplans: a failed step, one replan, a missed criterion, then the session fails naming the limit', async () => {
    const lookup = defineTool({ name: 'lookup', description: 'Looks a thing up.', input: z.object({ q: z.string() }), risk: 'read', execute: ({ q }) => `nothing on ${q}` });
    const { keel, model } = setup({
      plans: [{ goal: 'g', steps: [planStep('search', [], { tool: 'lookup' })] }, { goal: 'g', steps: [planStep('draft')] }],
      // The search loops on its tool until its turn limit fails the step's child session.
      steps: { search: [callTool('lookup', { q: 'a' }), callTool('lookup', { q: 'b' }), callTool('lookup', { q: 'c' })], draft: [answer('no sources')] },
    });
    const agent = defineAgent({ name: 'bounded', instructions: 'Research.', tools: [lookup], model: 'planner', streaming: false, limits: { maxTurns: 2 }, planner: { check: mustCite, maxReplans: 1 } });
    const result = await keel.run(agent, 'Find sources.').result;
    expect(result).toMatchObject({ status: 'failed', error: { code: 'guard-tripped', message: expect.stringContaining('maxReplans 1') } });
    const events = await keel.events(result.sessionId);
    expect(planTimeline(events)).toEqual([
      'plan-proposed',
      'plan-step-start search',
      'plan-step-end search',
      'plan-deviation search',
      'replan',
      'plan-proposed',
      'plan-step-start draft',
      'plan-step-end draft',
      'plan-deviation draft',
      'session-end',
    ]);
    expect(events.filter((event) => event.type === 'plan-deviation').map((event) => event.type === 'plan-deviation' && event.kind)).toEqual(['step-failed', 'criterion-missed']);
    expect(model.planning).toHaveLength(2);
  });

  it('a model check judges each step; a miss is a deviation like a predicate miss', async () => {
    const { keel, model } = setup({
      plans: [{ goal: 'g', steps: [planStep('one')] }, { goal: 'g', steps: [planStep('one', [], { rerun: true })] }],
      steps: { one: [answer('first try')] },
      checks: ['{"passed": false, "reason": "too vague"}', 'Looks right. {"passed": true, "reason": "specific"}'],
    });
    const agent = defineAgent({ name: 'checked', instructions: 'Work.', model: 'planner', streaming: false, planner: { check: 'model' } });
    const result = await keel.run(agent, 'Do one thing.').result;
    expect(result).toMatchObject({ status: 'completed', output: 'first try' });
    const ends = (await keel.events(result.sessionId)).filter((event) => event.type === 'plan-step-end');
    expect(ends.map((event) => event.type === 'plan-step-end' && [event.revision, event.check.by, event.check.passed, event.check.reason])).toEqual([
      [1, 'model', false, 'too vague'],
      [2, 'model', true, 'specific'],
    ]);
    // rerun: true ran the finished step again in revision 2, as its own child session.
    expect(model.stepTasks.filter((task) => task.includes('Your step (one)'))).toHaveLength(2);
  });
});

describe('invalid plans', () => {
  it('are retried once with the validation error, then fail with a typed plan-invalid error', async () => {
    const { keel, model } = setup({ plans: ['I would start by looking at the data.', { goal: 'g', steps: [planStep('a', ['a'])] }], steps: {} });
    const agent = defineAgent({ name: 'sloppy', instructions: 'Work.', model: 'planner', streaming: false, planner: true });
    const result = await keel.run(agent, 'Plan something.').result;
    expect(result).toMatchObject({ status: 'failed', error: { code: 'plan-invalid', fault: 'model', message: expect.stringContaining('step "a" depends on itself') } });
    const events = await keel.events(result.sessionId);
    expect(planTimeline(events)).toEqual(['plan-invalid', 'plan-invalid', 'session-end']);
    expect(model.planning).toHaveLength(2);
    // The retry showed the model its answer and what was wrong with it.
    const retry = model.planning[1]?.messages ?? [];
    expect(retry.map((message) => message.role)).toEqual(['user', 'assistant', 'user']);
    expect(JSON.stringify(retry[2])).toContain('not a JSON object');
  });

  it('a plan with thousands of problems is journaled and shown to the model with 20 of them and a count of the rest', async () => {
    const unknown = Array.from({ length: 100 }, (_, index) => `u${'x'.repeat(60)}${index}`);
    const flawed = { goal: 'g', steps: Array.from({ length: 100 }, (_, index) => planStep(`s${index}`, unknown)) };
    const { keel, model } = setup({ plans: [flawed, flawed], steps: {} });
    const agent = defineAgent({ name: 'flawed', instructions: 'Work.', model: 'planner', streaming: false, planner: { maxSteps: 100 } });
    const result = await keel.run(agent, 'Plan something.').result;
    expect(result).toMatchObject({ status: 'failed', error: { code: 'plan-invalid', message: expect.stringContaining('… and 9980 more problems') } });
    const invalid = (await keel.events(result.sessionId)).filter((event) => event.type === 'plan-invalid');
    expect(invalid).toHaveLength(2);
    for (const event of invalid) expect(event.type === 'plan-invalid' && event.error.message.length).toBeLessThan(8_000);
    const shownProblems = JSON.stringify(model.planning[1]?.messages.at(-1));
    expect(shownProblems.length).toBeLessThan(8_000);
  });

  it('a valid plan longer than a short answer limit is read whole and proposed', async () => {
    const long = { goal: 'g', steps: Array.from({ length: 60 }, (_, index) => planStep(`s${index}`, [], { description: 'x'.repeat(1_200) })) };
    expect(JSON.stringify(long).length).toBeGreaterThan(64 * 1024);
    const { keel } = setup({ plans: [long], steps: {} });
    const agent = defineAgent({ name: 'thorough', instructions: 'Work.', model: 'planner', streaming: false, planner: { maxSteps: 60, approval: 'first-plan' } });
    const result = await keel.run(agent, 'Plan something.').result;
    expect(result.status).toBe('awaiting-approval');
    const events = await keel.events(result.sessionId);
    expect(planTimeline(events)).toEqual(['plan-proposed']);
    expect(events.find((event) => event.type === 'plan-proposed')).toMatchObject({ attempt: 1, plan: { steps: expect.arrayContaining([expect.objectContaining({ id: 's59' })]) } });
  });

  it('a retry that succeeds runs the plan; the proposal records attempt 2', async () => {
    const { keel } = setup({ plans: [{ goal: 'g', steps: [planStep('a', ['ghost'])] }, { goal: 'g', steps: [planStep('a')] }], steps: { a: [answer('done')] } });
    const agent = defineAgent({ name: 'second-try', instructions: 'Work.', model: 'planner', streaming: false, planner: true });
    const result = await keel.run(agent, 'Plan something.').result;
    expect(result).toMatchObject({ status: 'completed', output: 'done' });
    const events = await keel.events(result.sessionId);
    expect(events.find((event) => event.type === 'plan-invalid')).toMatchObject({ attempt: 1, error: { code: 'plan-invalid', message: expect.stringContaining('"ghost", which is not a step of this plan') } });
    expect(events.find((event) => event.type === 'plan-proposed')).toMatchObject({ attempt: 2 });
  });
});
