import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { validateJournal } from '../../src/store/index.ts';
import { buildSpans, buildTraceTree, renderTraceTree } from '../../src/tracing/index.ts';
import { answer, callTool, plannerModel, planStep, planTimeline, scratchKeel } from './planner-fixtures.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A rendezvous: each call waits until `parties` calls have arrived, so it returns only if they run at the same time. */
function barrier(parties: number) {
  let arrived = 0;
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return defineTool({
    name: 'meet',
    description: 'Waits for the other parallel steps.',
    input: z.object({ who: z.string() }),
    risk: 'read',
    timeoutMs: 10_000,
    execute: async ({ who }) => {
      arrived += 1;
      if (arrived === parties) open();
      await opened;
      return `${who} met`;
    },
  });
}

describe('plan steps run as a graph', () => {
  it('independent steps run in parallel, each in its own child session seeing only its inputs; a dependent step waits for all its inputs', async () => {
    const model = plannerModel({
      plans: [{ goal: 'Compare', steps: [planStep('north'), planStep('south'), planStep('compare', ['north', 'south'])] }],
      steps: {
        north: [callTool('meet', { who: 'north' }), answer('north: 10')],
        south: [callTool('meet', { who: 'south' }), answer('south: 7')],
        compare: [answer('north leads by 3')],
      },
    });
    const scratch = scratchKeel(model);
    cleanups.push(scratch.cleanup);
    const agent = defineAgent({ name: 'regions', instructions: 'Compare regions.', tools: [barrier(2)], model: 'planner', streaming: false, planner: { maxParallel: 2 } });
    const result = await scratch.keel.run(agent, 'Compare north and south sales.').result;
    expect(result).toMatchObject({ status: 'completed', output: 'north leads by 3' });

    const events = await scratch.keel.events(result.sessionId);
    expect(validateJournal(events).problems).toEqual([]);
    const timeline = planTimeline(events);
    const at = (entry: string): number => timeline.indexOf(entry);
    // Both leaves started before either ended (the barrier proves they overlapped); compare started after both ended.
    expect(Math.max(at('plan-step-start north'), at('plan-step-start south'))).toBeLessThan(Math.min(at('plan-step-end north'), at('plan-step-end south')));
    expect(at('plan-step-start compare')).toBeGreaterThan(Math.max(at('plan-step-end north'), at('plan-step-end south')));

    // Each step is a child session of the plan's, with its own journal and a task holding only its inputs.
    const starts = events.filter((event) => event.type === 'plan-step-start');
    expect(new Set(starts.map((event) => event.type === 'plan-step-start' && event.childSessionId)).size).toBe(3);
    for (const start of starts) {
      if (start.type !== 'plan-step-start') continue;
      const child = await scratch.keel.events(start.childSessionId);
      expect(child[0]).toMatchObject({ type: 'session-start', parentSessionId: result.sessionId });
    }
    const compareTask = model.stepTasks.find((task) => task.includes('Your step (compare)')) ?? '';
    expect(compareTask).toContain('<<<result of step north>>>\nnorth: 10');
    expect(compareTask).toContain('<<<result of step south>>>\nsouth: 7');
    const northTask = model.stepTasks.find((task) => task.includes('Your step (north)')) ?? '';
    expect(northTask).not.toContain('result of step');

    // The trace shows the plan as a tree, with the spend of every step's child counted.
    const rendered = renderTraceTree(buildTraceTree(events));
    expect(rendered).toContain('plan revision 1');
    expect(rendered).toMatch(/step compare ← north, south/);

    // The OpenTelemetry export: one span per step under the session's span, the plan as a span event.
    const spans = buildSpans(events);
    const root = spans.find((span) => span.parentSpanId === null);
    const stepSpans = spans.filter((span) => span.name.startsWith('plan_step '));
    expect(stepSpans.map((span) => span.name).sort()).toEqual(['plan_step compare', 'plan_step north', 'plan_step south']);
    for (const span of stepSpans) expect(span).toMatchObject({ parentSpanId: root?.spanId, attributes: { 'keel.plan.step.status': 'completed', 'keel.plan.step.passed': true } });
    expect(root?.events.find((event) => event.name === 'keel.plan.proposed')?.attributes).toMatchObject({ 'keel.plan.revision': 1, 'keel.plan.step_ids': ['north', 'south', 'compare'] });
  });

  it('never runs more steps at once than maxParallel', async () => {
    const model = plannerModel({
      plans: [{ goal: 'g', steps: [planStep('a'), planStep('b'), planStep('c')] }],
      steps: { a: [answer('A')], b: [answer('B')], c: [answer('C')] },
    });
    const scratch = scratchKeel(model);
    cleanups.push(scratch.cleanup);
    const agent = defineAgent({ name: 'serial', instructions: 'Work.', model: 'planner', streaming: false, planner: { maxParallel: 2 } });
    const result = await scratch.keel.run(agent, 'Three things.').result;
    expect(result.status).toBe('completed');
    // Three leaves: the output lists each sink's result under its id.
    expect(result.output).toBe('## a\nA\n\n## b\nB\n\n## c\nC');
    let running = 0;
    let peak = 0;
    for (const entry of planTimeline(await scratch.keel.events(result.sessionId))) {
      if (entry.startsWith('plan-step-start')) running += 1;
      if (entry.startsWith('plan-step-end')) running -= 1;
      peak = Math.max(peak, running);
    }
    expect(peak).toBe(2);
  });
});
