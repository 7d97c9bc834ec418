import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { asTool, childSessionId, defineAgent } from '../../src/loop/index.ts';
import { KeelError } from '../../src/errors/index.ts';
import { createScriptedModel } from '../../src/model/index.ts';
import { createKeel } from '../../src/runtime/index.ts';
import { createSqliteStore } from '../../src/store/index.ts';
import type { Journal } from '../../src/spec/journal.ts';
import type { SessionEvent } from '../../src/spec/events.ts';
import { answer, note, scratchKeel, toolCall, toolCalls } from './subagent-fixtures.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const worker = defineAgent({ name: 'worker', instructions: 'Work on the task.', tools: [note], model: 'worker', streaming: false });
const lead = defineAgent({
  name: 'lead',
  instructions: 'Delegate.',
  tools: [asTool(worker, { description: 'Works on one part.' })],
  model: 'lead',
  streaming: false,
  // One child at a time, so the crossing point is deterministic.
  toolCalls: { concurrency: 1 },
});

function setup() {
  const scratch = scratchKeel({
    lead: [
      toolCalls([
        { name: 'worker', input: { task: 'part A' }, id: 'call_a' },
        { name: 'worker', input: { task: 'part B' }, id: 'call_b' },
        { name: 'worker', input: { task: 'part C' }, id: 'call_c' },
      ]),
      answer('done'),
    ],
    // Four responses of 1,500 tokens per child: 6,000 tokens each when it runs to the end.
    worker: [toolCall('note', { text: '1' }), toolCall('note', { text: '2' }), toolCall('note', { text: '3' }), answer('part done')],
  });
  cleanups.push(scratch.cleanup);
  return scratch;
}

const responses = (events: readonly SessionEvent[]) => events.filter((event) => event.type === 'model-response').length;

describe('a budget that flows down the tree', () => {
  it('stops every running session when the tree crosses the root budget of 10,000 tokens, not before', async () => {
    const { keel } = setup();
    const result = await keel.run(lead, { task: 'Do the three parts.', budget: { tokens: 10_000 } }).result;
    const root = await keel.events(result.sessionId);
    const children = root.filter((event) => event.type === 'child-start');
    expect(children).toHaveLength(3);
    const [a, b, c] = await Promise.all(children.map((event) => keel.events(event.type === 'child-start' ? event.childSessionId : '')));

    // Lead 1,500 + A 6,000 = 7,500; B's first response makes 9,000 (under), its second 10,500: B crosses.
    expect(a?.at(-1)).toMatchObject({ type: 'session-end', status: 'completed' });
    expect(responses(a ?? [])).toBe(4);
    expect(responses(b ?? [])).toBe(2);
    const bTrip = b?.find((event) => event.type === 'guard-trip');
    expect(bTrip).toMatchObject({ guard: 'tokens', limit: 10_000, actual: 10_500, budgetSessionId: result.sessionId, spenderSessionId: b?.[0]?.sessionId });
    // C never got a model call: the tree was over budget when it started. The root stops too, naming the same spender.
    expect(responses(c ?? [])).toBe(0);
    expect(c?.find((event) => event.type === 'guard-trip')).toMatchObject({ guard: 'tokens', actual: 10_500, spenderSessionId: b?.[0]?.sessionId });
    expect(root.find((event) => event.type === 'guard-trip')).toMatchObject({ guard: 'tokens', actual: 10_500, budgetSessionId: result.sessionId, spenderSessionId: b?.[0]?.sessionId });
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe('guard-tripped');

    // Each child's spending is in the root's usage: 1,500 (lead) + 6,000 + 3,000 + 0.
    expect(result.usage.inputTokens + result.usage.outputTokens).toBe(10_500);
    const ends = root.filter((event) => event.type === 'child-end');
    expect(ends.map((event) => (event.type === 'child-end' ? event.usage.inputTokens + event.usage.outputTokens : -1))).toEqual([6_000, 3_000, 0]);
    const trace = await keel.trace(result.sessionId);
    expect(trace.totals.children).toEqual({ sessions: 3, inputTokens: 6_000, outputTokens: 3_000, costUsd: null });
  });

  it('stops the tree on its cost budget too, naming the child whose spending crossed it', async () => {
    const priced = (response: ReturnType<typeof answer>) => ({ ...response, model: 'claude-sonnet-4-6' });
    const scratch = scratchKeel({
      lead: [toolCalls([{ name: 'worker', input: { task: 'part A' }, id: 'call_a' }, { name: 'worker', input: { task: 'part B' }, id: 'call_b' }]), answer('done')].map(priced),
      worker: [toolCall('note', { text: '1' }), toolCall('note', { text: '2' }), toolCall('note', { text: '3' }), answer('part done')].map(priced),
    });
    cleanups.push(scratch.cleanup);
    // Each response costs $0.0105 (1,000 input and 500 output tokens of claude-sonnet-4-6): the lead's and A's four make $0.0525.
    const result = await scratch.keel.run(lead, { task: 'Do the parts.', budget: { costUsd: 0.05 } }).result;
    const root = await scratch.keel.events(result.sessionId);
    const [a, b] = await Promise.all(root.flatMap((event) => (event.type === 'child-start' ? [scratch.keel.events(event.childSessionId)] : [])));
    expect(a?.at(-1)).toMatchObject({ type: 'session-end', status: 'completed' });
    expect(responses(b ?? [])).toBe(0);
    const trip = b?.find((event) => event.type === 'guard-trip');
    expect(trip).toMatchObject({ guard: 'cost', limit: 0.05, budgetSessionId: result.sessionId, spenderSessionId: a?.[0]?.sessionId });
    expect(trip?.type === 'guard-trip' ? trip.actual : 0).toBeCloseTo(0.0525, 6);
    expect(result).toMatchObject({ status: 'failed', error: { code: 'guard-tripped' } });
    expect(result.costUsd).toBeCloseTo(0.0525, 6);
  });

  it('runs the whole tree when the budget has room', async () => {
    const { keel } = setup();
    const result = await keel.run(lead, { task: 'Do the three parts.', budget: { tokens: 30_000 } }).result;
    expect(result).toMatchObject({ status: 'completed', output: 'done' });
    expect(result.usage.inputTokens + result.usage.outputTokens).toBe(3_000 + 3 * 6_000);
  });

  it('refuses a child slice larger than the parent budget at delegation', async () => {
    const greedy = defineAgent({ name: 'lead', instructions: 'Delegate.', tools: [asTool(worker, { description: 'Works.', budget: { tokens: 50_000 } })], model: 'lead', streaming: false, toolCalls: { concurrency: 1 } });
    const { keel } = setup();
    const result = await keel.run(greedy, { task: 'Do the three parts.', budget: { tokens: 10_000 } }).result;
    const root = await keel.events(result.sessionId);
    const errors = root.filter((event) => event.type === 'tool-error');
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatchObject({ error: { code: 'invalid-config' } });
    expect(errors[0]?.type === 'tool-error' ? errors[0].error.message : '').toMatch(/may not exceed its parent's \(10000/);
    // Refused before anything of the child was written.
    expect(root.some((event) => event.type === 'child-start')).toBe(false);
  });

  it('bounds a child by the parent deadline', async () => {
    const { keel } = setup();
    const result = await keel.run(lead, { task: 'Do the three parts.', budget: { timeMs: 60_000 } }).result;
    const root = await keel.events(result.sessionId);
    const start = root[0];
    const childStart = root.find((event) => event.type === 'child-start');
    const child = await keel.events(childStart?.type === 'child-start' ? childStart.childSessionId : '');
    const rootDeadline = start?.type === 'session-start' ? start.limits.deadlineAt : null;
    const childDeadline = child[0]?.type === 'session-start' ? child[0].limits.deadlineAt : null;
    expect(rootDeadline).not.toBeNull();
    expect(childDeadline).toBe(rootDeadline);
    expect(child[0]).toMatchObject({ parentSessionId: result.sessionId, input: 'part A' });
  });
});

describe('a parent that stopped between its child-end and its call result', () => {
  it('reuses the recorded outcome on resume: the child is not resumed and its spending is not counted twice', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'keel-subagents-'));
    const store = createSqliteStore({ path: join(directory, 'keel.db') });
    cleanups.push(async () => {
      await store.close();
      rmSync(directory, { recursive: true, force: true });
    });
    let failed = false;
    const journal: Journal = {
      read: (id, from) => store.journal.read(id, from),
      lastSeq: (id) => store.journal.lastSeq(id),
      listSessions: (options) => store.journal.listSessions(options),
      close: async () => undefined,
      async append(id, events, expectedSeq) {
        // The process "stops" right after the child-end: the call's result is never written.
        if (!failed && events.some((event) => event.type === 'tool-result' && event.tool === 'worker')) {
          failed = true;
          throw new KeelError('storage-failure', 'The disk went away.');
        }
        return store.journal.append(id, events, expectedSeq);
      },
    };
    const models = { lead: createScriptedModel([toolCall('worker', { task: 'part A' }, 'call_a'), answer('done')]), worker: createScriptedModel([answer('part done')]) };
    const options = { journal, blobs: store.blobs, leases: store.leases, models, env: {} };
    const first = createKeel(options);
    // 1,500 tokens per response: the lead's two and the child's one make 4,500; counting the child twice would trip 4,000 before the lead's last turn.
    await expect(first.run(lead, { task: 'Do part A.', sessionId: 'ses_lead', budget: { tokens: 4_000 } }).result).rejects.toMatchObject({ code: 'storage-failure' });
    const child = childSessionId('ses_lead', 'call_a');
    const childEvents = await store.journal.lastSeq(child);
    expect((await first.events('ses_lead')).at(-1)).toMatchObject({ type: 'child-end', status: 'completed' });

    const second = createKeel(options);
    const result = await (await second.resume(lead, 'ses_lead')).result;
    expect(result).toMatchObject({ status: 'completed', output: 'done' });
    expect(result.usage.inputTokens + result.usage.outputTokens).toBe(4_500);
    expect(await store.journal.lastSeq(child)).toBe(childEvents);
    const events = await second.events('ses_lead');
    expect(events.filter((event) => event.type === 'child-end')).toHaveLength(1);
    expect(events.find((event) => event.type === 'tool-result' && event.tool === 'worker')).toMatchObject({ output: 'part done' });
  });
});
