import { describe, expect, it } from 'vitest';
import { taskReminder } from '../../src/context/index.ts';
import { unfenced } from '../helpers/trust-layout.ts';
import { z } from 'zod';
import { defineAgent, resumeSession, startSession } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { createMemoryJournal, validateJournal } from '../../src/store/index.ts';
import type { ContentBlock, ToolResultBlock } from '../../src/spec/index.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';
import { dependenciesFor, readAll } from '../helpers/loop-harness.ts';

const requested = 10_000;

/** A tool that counts its runs and the most runs at once; each run yields to the event loop before it answers. */
function counters(onStart: () => void = () => undefined) {
  const state = { executions: 0, running: 0, mostAtOnce: 0, keys: new Set<string>() };
  const tool = defineTool({
    name: 'fetch_page',
    description: 'Fetches one page',
    input: z.object({ page: z.number() }),
    risk: 'read',
    execute: async ({ page }, context) => {
      onStart();
      state.executions += 1;
      state.keys.add(context.idempotencyKey);
      state.running += 1;
      state.mostAtOnce = Math.max(state.mostAtOnce, state.running);
      await new Promise((resolve) => setTimeout(resolve, 1));
      state.running -= 1;
      return `page ${page}`;
    },
  });
  return { state, tool };
}

const manyCalls: ContentBlock[] = [text('Fetching everything.'), ...Array.from({ length: requested }, (_, index) => toolUse(`call_${index}`, 'fetch_page', { page: index }))];
const script = [{ content: manyCalls }, { content: [text('Fetched what I could.')] }];

describe('bounded fan-out of one model message', () => {
  it('runs the first 32 of 10,000 calls, 8 at a time, answers the rest with tool-call-limit, and keeps the host loop turning', async () => {
    let ticks = 0;
    const ticksAtToolStart: number[] = [];
    const { state, tool } = counters(() => ticksAtToolStart.push(ticks));
    const model = scriptedCaller(script);
    const dependencies = dependenciesFor(model, { anomalies: false });
    const interval = setInterval(() => {
      ticks += 1;
    }, 1);
    let result;
    try {
      result = await startSession(defineAgent({ name: 'crawler', instructions: 'Fetch pages.', tools: [tool] }), dependencies, { input: 'fetch all', sessionId: 'ses_fan' }).result;
    } finally {
      clearInterval(interval);
    }
    expect(result.status).toBe('completed');
    expect(result.output).toBe('Fetched what I could.');
    expect(state.executions).toBe(32);
    expect(state.mostAtOnce).toBe(8);
    // The host loop ran timers while the calls ran: the waves of 8 did not hold it.
    expect(ticksAtToolStart).toHaveLength(32);
    expect((ticksAtToolStart.at(-1) ?? 0) - (ticksAtToolStart[0] ?? 0)).toBeGreaterThan(0);

    // Every result, then the reminder of the task that the trust layout puts after untrusted content.
    const content = model.requests[1]?.messages.at(-1)?.content ?? [];
    expect(content).toHaveLength(requested + 1);
    expect(content.at(-1)).toEqual({ type: 'text', text: taskReminder('fetch all') });
    const results = content.slice(0, requested) as ToolResultBlock[];
    expect(results.slice(0, 32).every((block) => block.type === 'tool_result' && !block.isError)).toBe(true);
    const refused = results.slice(32);
    expect(refused.every((block) => block.isError === true && unfenced(block.content).startsWith('Error (tool-call-limit)'))).toBe(true);
    expect(refused[0]?.content).toContain(`this message asked for ${requested} tool calls and at most 32 run per message; calls 33..${requested}`);
    expect(refused[0]?.content).toContain('Ask again for the ones you still need');

    const events = await readAll(dependencies, 'ses_fan');
    expect(validateJournal(events).problems).toEqual([]);
    expect(events.filter((event) => event.type === 'tool-decision')).toHaveLength(32);
    expect(events.filter((event) => event.type === 'tool-error' && event.error.code === 'tool-call-limit')).toHaveLength(requested - 32);
  });

  it('the cap is a journal fact: a resume from any point after the response runs only the missing capped calls, once', async () => {
    const reference = counters();
    const referenceDependencies = dependenciesFor(scriptedCaller([{ content: manyCalls.slice(0, 41) }, { content: [text('done')] }]), { anomalies: false });
    const agent = (tool: ReturnType<typeof counters>['tool']) => defineAgent({ name: 'crawler', instructions: 'Fetch pages.', tools: [tool], toolCalls: { maxPerMessage: 4, concurrency: 2 } });
    expect((await startSession(agent(reference.tool), referenceDependencies, { input: 'fetch', sessionId: 'ses_cap' }).result).status).toBe('completed');
    const full = await readAll(referenceDependencies, 'ses_cap');
    expect(reference.state.executions).toBe(4);
    // Appends are atomic: the response, its requests and the cap's errors are one; a crash comes after it or before it.
    const afterResponse = full.findLastIndex((event) => event.type === 'tool-error' && event.error.code === 'tool-call-limit') + 1;
    expect(afterResponse).toBe(full.findIndex((event) => event.type === 'model-response') + 1 + 40 + 36);
    for (let cut = afterResponse; cut < full.length; cut += 1) {
      const journal = createMemoryJournal();
      await journal.append('ses_cap', full.slice(0, cut), 0);
      const resumed = counters();
      // A resume with a different cap still honours what the journal decided.
      const dependencies = dependenciesFor(scriptedCaller([{ content: manyCalls.slice(0, 41) }, { content: [text('done')] }]), { journal, anomalies: false });
      const changed = defineAgent({ name: 'crawler', instructions: 'Fetch pages.', tools: [resumed.tool], toolCalls: { maxPerMessage: 40 } });
      expect((await resumeSession(changed, dependencies, 'ses_cap').result).status, `cut at ${cut}`).toBe('completed');
      const ran = new Set(full.slice(0, cut).flatMap((event) => (event.type === 'tool-result' ? [event.callId] : [])));
      expect(resumed.state.executions, `cut at ${cut}`).toBe(4 - ran.size);
      const events = await readAll(dependencies, 'ses_cap');
      expect(events.filter((event) => event.type === 'tool-error' && event.error.code === 'tool-call-limit')).toHaveLength(36);
    }
  });

  it('rejects a cap or concurrency that is not a positive integer', () => {
    expect(() => defineAgent({ name: 'a', instructions: 'i', toolCalls: { maxPerMessage: 0 } })).toThrow(/toolCalls.maxPerMessage must be a positive integer/);
    expect(() => defineAgent({ name: 'a', instructions: 'i', toolCalls: { concurrency: 1.5 } })).toThrow(/toolCalls.concurrency must be a positive integer/);
    expect(() => defineAgent({ name: 'a', instructions: 'i', toolCalls: { cancelGraceMs: -1 } })).toThrow(/cancelGraceMs/);
  });
});
