import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { validateJournal } from '../../src/store/index.ts';
import type { ToolResultBlock } from '../../src/spec/index.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';
import { dependenciesFor, runToEnd } from '../helpers/loop-harness.ts';
import { boundaryOf, unfenced } from '../helpers/trust-layout.ts';
import { fenceUntrusted, taskReminder, trustedSystem } from '../../src/context/index.ts';

const add = defineTool({
  name: 'add',
  description: 'Adds two numbers',
  input: z.object({ a: z.number(), b: z.number() }),
  risk: 'read',
  execute: ({ a, b }) => ({ sum: a + b }),
});

function lastToolResults(requests: { messages: readonly { role: string; content: readonly unknown[] }[] }[]): ToolResultBlock[] {
  const last = requests[requests.length - 1];
  const message = last?.messages[last.messages.length - 1];
  return (message?.content ?? []).filter((block) => (block as { type?: unknown }).type === 'tool_result') as ToolResultBlock[];
}

describe('the agent loop', () => {
  it('runs tools, feeds results back, and completes with the final text', async () => {
    const model = scriptedCaller([
      { content: [text('Adding.'), toolUse('c1', 'add', { a: 2, b: 3 })] },
      { content: [text('The sum is 5.')] },
    ]);
    const dependencies = dependenciesFor(model);
    const agent = defineAgent({ name: 'adder', instructions: 'Add numbers.', tools: [add] });
    const { result, events } = await runToEnd(agent, dependencies);
    expect(result.status).toBe('completed');
    expect(result.output).toBe('The sum is 5.');
    expect(result.turns).toBe(2);
    expect(result.usage.inputTokens).toBe(200);
    expect(result.costUsd).toBeCloseTo((200 * 3 + 20 * 15) / 1_000_000, 12);
    expect(events.map((event) => event.type)).toEqual([
      'session-start',
      'turn-start', 'context-assemble', 'model-request', 'model-response', 'tool-request', 'tool-decision', 'tool-result',
      'turn-start', 'context-assemble', 'model-request', 'model-response',
      'session-end',
    ]);
    // The trust layout is on by default: the result is fenced as data, and the task follows it.
    const boundary = boundaryOf(events);
    expect(model.requests[1]?.messages.at(-1)?.content).toEqual([
      { type: 'tool_result', toolUseId: 'c1', content: fenceUntrusted('{"sum":5}', { boundary, kind: 'tool-result', source: 'add' }), isError: false },
      { type: 'text', text: taskReminder('do the task') },
    ]);
    expect(model.requests[1]?.system).toBe(trustedSystem('Add numbers.', boundary));
    expect(model.requests[1]?.tools.map((tool) => tool.name)).toEqual(['add']);
    expect(validateJournal(events).problems).toEqual([]);
  });

  it('stores the assembled request as a blob whose hash the journal records', async () => {
    const model = scriptedCaller([{ content: [text('done')] }]);
    const dependencies = dependenciesFor(model);
    const { events } = await runToEnd(defineAgent({ name: 'a', instructions: 'x' }), dependencies);
    const assemble = events.find((event) => event.type === 'context-assemble');
    if (assemble?.type !== 'context-assemble') throw new Error('no context-assemble');
    const stored = await dependencies.blobs.get(assemble.requestHash);
    expect(JSON.parse(stored ?? 'null')).toMatchObject({ system: trustedSystem('x', boundaryOf(events)), messages: [{ role: 'user' }] });
  });

  it('returns unknown tools, invalid input and malformed JSON to the model as error results, and carries on', async () => {
    const model = scriptedCaller([
      {
        content: [
          toolUse('c1', 'multiply', { a: 1 }),
          toolUse('c2', 'add', { a: 'two', b: 3 }),
          { type: 'tool_use', id: 'c3', name: 'add', input: {}, malformedInput: '{"a": 1, "b":' },
        ],
      },
      { content: [text('I will stop here.')] },
    ]);
    const dependencies = dependenciesFor(model);
    const { result, events } = await runToEnd(defineAgent({ name: 'a', instructions: 'x', tools: [add] }), dependencies);
    expect(result.status).toBe('completed');
    const results = lastToolResults(model.requests);
    expect(results.map((block) => block.isError)).toEqual([true, true, true]);
    expect(results[0]?.content).toContain('tool-unknown');
    expect(results[0]?.content).toContain('available tools: add');
    expect(results[1]?.content).toContain('tool-invalid-input');
    expect(results[1]?.content).toMatch(/a: .*number/i);
    expect(results[2]?.content).toContain('not valid JSON');
    expect(events.filter((event) => event.type === 'tool-error')).toHaveLength(3);
  });

  it('turns a throwing tool into an error result and a timeout into tool-timeout', async () => {
    const failing = defineTool({ name: 'fail', description: 'fails', input: z.object({}), execute: () => { throw new Error('disk on fire'); } });
    const hanging = defineTool({ name: 'hang', description: 'hangs', input: z.object({}), timeoutMs: 50, execute: () => new Promise(() => undefined) });
    const model = scriptedCaller([{ content: [toolUse('c1', 'fail', {}), toolUse('c2', 'hang', {})] }, { content: [text('ok')] }]);
    const { result } = await runToEnd(defineAgent({ name: 'a', instructions: 'x', tools: [failing, hanging] }), dependenciesFor(model));
    expect(result.status).toBe('completed');
    const results = lastToolResults(model.requests);
    expect(unfenced(results[0]?.content ?? '')).toBe('Error (tool-failed): Tool "fail" failed: disk on fire');
    expect(results[1]?.content).toContain('tool-timeout');
    expect(results[1]?.content).toContain('50 ms');
  });

  it('runs independent tool calls of one turn in parallel', async () => {
    let running = 0;
    let peak = 0;
    const slow = defineTool({
      name: 'slow', description: 'slow', input: z.object({ n: z.number() }), risk: 'read',
      execute: async ({ n }) => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((resolve) => setTimeout(resolve, 50));
        running -= 1;
        return n;
      },
    });
    const model = scriptedCaller([{ content: [toolUse('c1', 'slow', { n: 1 }), toolUse('c2', 'slow', { n: 2 }), toolUse('c3', 'slow', { n: 3 })] }, { content: [text('ok')] }]);
    await runToEnd(defineAgent({ name: 'a', instructions: 'x', tools: [slow] }), dependenciesFor(model));
    expect(peak).toBe(3);
    expect(lastToolResults(model.requests).map((block) => unfenced(block.content))).toEqual(['1', '2', '3']);
  });

  it('gives each call a stable idempotency key derived from session, turn and call', async () => {
    const keys: string[] = [];
    const record = defineTool({ name: 'record', description: 'r', input: z.object({}), execute: (_input, context) => { keys.push(context.idempotencyKey); return 'ok'; } });
    const model = scriptedCaller([{ content: [toolUse('c1', 'record', {}), toolUse('c2', 'record', {})] }, { content: [text('ok')] }]);
    const { events } = await runToEnd(defineAgent({ name: 'a', instructions: 'x', tools: [record] }), dependenciesFor(model));
    const requests = events.filter((event) => event.type === 'tool-request');
    expect(requests.map((event) => (event.type === 'tool-request' ? event.idempotencyKey : ''))).toEqual(keys);
    expect(new Set(keys).size).toBe(2);
  });

  it('keeps a tool result over the inline limit whole in the blob store and marks the cut', async () => {
    const big = defineTool({ name: 'big', description: 'big', input: z.object({}), execute: () => 'x'.repeat(100_000) });
    const model = scriptedCaller([{ content: [toolUse('c1', 'big', {})] }, { content: [text('ok')] }]);
    const dependencies = dependenciesFor(model);
    const { events } = await runToEnd(defineAgent({ name: 'a', instructions: 'x', tools: [big] }), dependencies);
    const result = events.find((event) => event.type === 'tool-result');
    if (result?.type !== 'tool-result' || result.outputBlob === undefined) throw new Error('expected a blob');
    expect(result.output).toContain('[output truncated: 100000 characters in total');
    expect(await dependencies.blobs.get(result.outputBlob)).toHaveLength(100_000);
  });

  it('continues a reply cut at max_tokens and joins the parts, then fails after repeated cuts', async () => {
    const model = scriptedCaller([
      { content: [text('Part one, ')], stopReason: 'max_tokens' },
      { content: [text('part two.')] },
    ]);
    const { result } = await runToEnd(defineAgent({ name: 'a', instructions: 'x' }), dependenciesFor(model));
    expect(result.status).toBe('completed');
    expect(result.output).toBe('Part one, part two.');

    const endless = scriptedCaller(() => ({ content: [text('more ')], stopReason: 'max_tokens' }));
    const failed = await runToEnd(defineAgent({ name: 'a', instructions: 'x' }), dependenciesFor(endless));
    expect(failed.result.status).toBe('failed');
    expect(failed.result.error?.message).toContain('output token limit 3 times');
  });

  it('fails on a refusal with model-refusal, and on a context overflow with model-context-window', async () => {
    const refusal = await runToEnd(defineAgent({ name: 'a', instructions: 'x' }), dependenciesFor(scriptedCaller([{ content: [text('I cannot help with that.')], stopReason: 'refusal' }])));
    expect(refusal.result.status).toBe('failed');
    expect(refusal.result.error?.code).toBe('model-refusal');
    const overflow = await runToEnd(defineAgent({ name: 'a', instructions: 'x' }), dependenciesFor(scriptedCaller([{ content: [], stopReason: 'context_window_exceeded' }])));
    expect(overflow.result.error?.code).toBe('model-context-window');
  });

  it('records a model failure as model-error and a failed session', async () => {
    const { KeelError } = await import('../../src/errors/index.ts');
    const model = scriptedCaller([{ content: [], error: new KeelError('model-overloaded', 'Overloaded', { details: { retries: 4 } }) }]);
    const { result, events } = await runToEnd(defineAgent({ name: 'a', instructions: 'x' }), dependenciesFor(model));
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe('model-overloaded');
    const error = events.find((event) => event.type === 'model-error');
    expect(error?.type === 'model-error' ? error.retries : -1).toBe(4);
  });

  it('cancels through an AbortSignal during a model call and records a cancelled session', async () => {
    const controller = new AbortController();
    const model = scriptedCaller([{ content: [text('late')], delayMs: 5_000 }]);
    setTimeout(() => controller.abort(), 30);
    const { result, events } = await runToEnd(defineAgent({ name: 'a', instructions: 'x' }), dependenciesFor(model), 'task', controller.signal);
    expect(result.status).toBe('cancelled');
    expect(events[events.length - 1]?.type).toBe('session-end');
  });

  it('streams every written event to the caller in journal order', async () => {
    const { startSession } = await import('../../src/loop/index.ts');
    const model = scriptedCaller([{ content: [toolUse('c1', 'add', { a: 1, b: 1 })] }, { content: [text('2')] }]);
    const dependencies = dependenciesFor(model);
    const session = startSession(defineAgent({ name: 'a', instructions: 'x', tools: [add] }), dependencies, { input: 'go' });
    const seen: number[] = [];
    for await (const update of session) if (update.type === 'event') seen.push(update.event.seq);
    expect(seen).toEqual(Array.from({ length: seen.length }, (_value, index) => index + 1));
    expect((await session.result).status).toBe('completed');
  });
});
