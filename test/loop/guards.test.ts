import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { FakeClock } from '../../src/testing/fake-clock.ts';
import type { GuardTripEvent, SessionEvent } from '../../src/spec/index.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';
import { dependenciesFor, runToEnd } from '../helpers/loop-harness.ts';

const echo = defineTool({ name: 'echo', description: 'echo', input: z.object({ n: z.number() }), risk: 'read', execute: ({ n }) => String(n) });

/** A model that never stops calling tools, each call with a new input unless `same` is set. */
function endless(same = false, usage = { inputTokens: 100, outputTokens: 10 }) {
  return scriptedCaller((_request, index) => ({ content: [toolUse(`c${index}`, 'echo', { n: same ? 0 : index })], usage }));
}

function tripOf(events: readonly SessionEvent[]): GuardTripEvent {
  const trips = events.filter((event): event is GuardTripEvent => event.type === 'guard-trip');
  expect(trips).toHaveLength(1);
  const last = events[events.length - 1];
  expect(last?.type === 'session-end' && last.status).toBe('failed');
  expect(last?.type === 'session-end' && last.error?.code).toBe('guard-tripped');
  return trips[0] as GuardTripEvent;
}

describe('guards', () => {
  it('max-turns trips exactly when the turn limit is used up', async () => {
    const model = endless();
    const { events, result } = await runToEnd(defineAgent({ name: 'a', instructions: 'x', tools: [echo], limits: { maxTurns: 4, maxIdenticalToolCalls: 100 } }), dependenciesFor(model));
    const trip = tripOf(events);
    expect(trip).toMatchObject({ guard: 'max-turns', limit: 4, actual: 4 });
    expect(model.requests).toHaveLength(4);
    expect(result.turns).toBe(4);
  });

  it('a session that answers on its last allowed turn completes', async () => {
    const model = scriptedCaller((_request, index) => (index < 2 ? { content: [toolUse(`c${index}`, 'echo', { n: index })] } : { content: [text('done')] }));
    const { result } = await runToEnd(defineAgent({ name: 'a', instructions: 'x', tools: [echo], limits: { maxTurns: 3 } }), dependenciesFor(model));
    expect(result.status).toBe('completed');
  });

  it('input-tokens trips when the budget is reached, with the figures', async () => {
    const model = endless();
    const { events } = await runToEnd(defineAgent({ name: 'a', instructions: 'x', tools: [echo], limits: { maxInputTokens: 300, maxIdenticalToolCalls: 100 } }), dependenciesFor(model));
    expect(tripOf(events)).toMatchObject({ guard: 'input-tokens', limit: 300, actual: 300 });
    expect(model.requests).toHaveLength(3);
  });

  it('output-tokens trips when the budget is reached', async () => {
    const model = endless(false, { inputTokens: 1, outputTokens: 25 });
    const { events } = await runToEnd(defineAgent({ name: 'a', instructions: 'x', tools: [echo], limits: { maxOutputTokens: 100, maxIdenticalToolCalls: 100 } }), dependenciesFor(model));
    expect(tripOf(events)).toMatchObject({ guard: 'output-tokens', limit: 100, actual: 100 });
    expect(model.requests).toHaveLength(4);
  });

  it('cost trips when the USD budget is reached, priced per call', async () => {
    const model = endless(false, { inputTokens: 1000, outputTokens: 0 });
    const dependencies = dependenciesFor(model, { price: (usage) => usage.inputTokens / 1000 * 0.25 });
    const { events } = await runToEnd(defineAgent({ name: 'a', instructions: 'x', tools: [echo], limits: { maxCostUsd: 1, maxIdenticalToolCalls: 100 } }), dependencies);
    expect(tripOf(events)).toMatchObject({ guard: 'cost', limit: 1, actual: 1 });
    expect(model.requests).toHaveLength(4);
  });

  it('identical-tool-calls trips on the Nth identical call in a row, before it runs', async () => {
    let runs = 0;
    const counting = defineTool({ name: 'echo', description: 'echo', input: z.object({ n: z.number() }), risk: 'read', execute: ({ n }) => { runs += 1; return String(n); } });
    const { events } = await runToEnd(defineAgent({ name: 'a', instructions: 'x', tools: [counting], limits: { maxIdenticalToolCalls: 3 } }), dependenciesFor(endless(true)));
    expect(tripOf(events)).toMatchObject({ guard: 'identical-tool-calls', limit: 3, actual: 3 });
    expect(runs).toBe(2);
  });

  it('identical calls within one turn count too, and different inputs reset the run', async () => {
    const model = scriptedCaller([
      { content: [toolUse('a1', 'echo', { n: 1 }), toolUse('a2', 'echo', { n: 2 }), toolUse('a3', 'echo', { n: 2 })] },
      { content: [toolUse('b1', 'echo', { n: 2 })] },
    ]);
    const { events } = await runToEnd(defineAgent({ name: 'a', instructions: 'x', tools: [echo], limits: { maxIdenticalToolCalls: 3 } }), dependenciesFor(model));
    expect(tripOf(events)).toMatchObject({ guard: 'identical-tool-calls', limit: 3, actual: 3, turn: 2 });
  });

  it('deadline is fixed at session start and trips when the clock passes it', async () => {
    const clock = new FakeClock();
    const model = scriptedCaller((_request, index) => {
      clock.advance(600);
      return { content: [toolUse(`c${index}`, 'echo', { n: index })] };
    });
    const dependencies = dependenciesFor(model, { clock });
    const { events } = await runToEnd(defineAgent({ name: 'a', instructions: 'x', tools: [echo], limits: { deadlineMs: 1000 } }), dependencies);
    const start = events[0];
    expect(start?.type === 'session-start' && start.limits.deadlineAt).toBe(clock.now() - 1200 + 1000);
    expect(tripOf(events)).toMatchObject({ guard: 'deadline', limit: 1000, actual: 1200 });
    expect(model.requests).toHaveLength(2);
  });

  it('a model call still running at the deadline is aborted and the deadline trips', async () => {
    // The answer would come after ten minutes; without the abort the test would hit its own time-out.
    const model = scriptedCaller([{ content: [text('too late')], delayMs: 600_000 }]);
    const { events } = await runToEnd(defineAgent({ name: 'a', instructions: 'x', limits: { deadlineMs: 100 } }), dependenciesFor(model));
    expect(tripOf(events)).toMatchObject({ guard: 'deadline', limit: 100 });
  });
});
