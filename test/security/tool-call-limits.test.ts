import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createKeel, defineAgent } from '../../src/index.ts';
import { boundModelResponse, createGateway, createScriptedModel } from '../../src/model/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { validateJournal } from '../../src/store/index.ts';
import type { SessionEvent, ToolResultBlock } from '../../src/spec/index.ts';
import { canonicalJson, quotedTextLimit } from '../../src/util/index.ts';
import { dependenciesFor, runToEnd } from '../helpers/loop-harness.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';

let echoed = 0;
const echo = defineTool({
  name: 'echo',
  description: 'Echoes a value',
  input: z.object({ value: z.unknown() }),
  risk: 'read',
  execute: ({ value }) => {
    echoed += 1;
    return typeof value === 'string' ? `${value.length} characters` : 'a value';
  },
});

function assistant(content: unknown[]) {
  return { role: 'assistant', model: 'claude-sonnet-4-6', content, usage: { input_tokens: 100, output_tokens: 10 } } as never;
}

function nested(depth: number): unknown {
  return JSON.parse(`{"value":${'['.repeat(depth)}${']'.repeat(depth)}}`);
}

/** A session whose first reply makes `call`, whose second just finishes; through the real gateway and loop. */
async function runOneCall(call: { name: string; input: unknown }) {
  const model = createScriptedModel([
    assistant([{ type: 'tool_use', id: 'toolu_1', name: call.name, input: call.input }, { type: 'tool_use', id: 'toolu_2', name: 'echo', input: { value: 'fine' } }]),
    assistant([{ type: 'text', text: 'Understood.' }]),
  ]);
  const gateway = createGateway(model);
  const requests: unknown[] = [];
  const dependencies = dependenciesFor({ provider: gateway.provider, modelId: gateway.modelId, call: (request, options) => (requests.push(request), gateway.call(request, options)) });
  const { result, events } = await runToEnd(defineAgent({ name: 'bounded', instructions: 'x', tools: [echo] }), dependencies);
  const last = requests[requests.length - 1] as { messages: { content: unknown[] }[] };
  // The trust layout adds the task reminder after the results; only the results are compared.
  const results = (last.messages[last.messages.length - 1]?.content as { type: string }[]).filter((block): block is ToolResultBlock => block.type === 'tool_result');
  return { result, events, results, journalBytes: events.reduce((sum, event) => sum + canonicalJson(event).length, 0) };
}

function errorOf(events: readonly SessionEvent[], callId: string) {
  const found = events.find((event) => event.type === 'tool-error' && event.callId === callId);
  if (found?.type !== 'tool-error') throw new Error(`no tool-error for ${callId}`);
  return found.error;
}

describe('tool calls over the limits', () => {
  for (const depth of [5_000, 100_000]) {
    it(`refuses arguments nested ${depth} levels deep as tool-invalid-input, and the session goes on`, async () => {
      echoed = 0;
      const { result, events, results, journalBytes } = await runOneCall({ name: 'echo', input: nested(depth) });
      expect(result.status).toBe('completed');
      expect(result.output).toBe('Understood.');
      const error = errorOf(events, 'toolu_1');
      expect(error.code).toBe('tool-invalid-input');
      expect(error.message).toContain(`nest ${depth + 1} levels deep; the limit is 64`);
      // The sibling call in the same reply still ran.
      expect(echoed).toBe(1);
      expect(results.map((block) => block.isError)).toEqual([true, false]);
      expect(results[0]?.content).toContain('tool-invalid-input');
      // The journal keeps a bounded preview, never the deep value: 2 bytes per level would be 10 KB or 200 KB.
      expect(journalBytes).toBeLessThan(8_000);
      expect(validateJournal(events).problems).toEqual([]);
    });
  }

  it('refuses a response whose tool call id is absurdly long, before the id is copied into events and requests', () => {
    const response = { id: 'msg_1', model: 'm', stopReason: 'tool_use', usage: { inputTokens: 1, outputTokens: 1 }, content: [{ type: 'tool_use', id: 'x'.repeat(1_000_000), name: 'echo', input: {} }] } as never;
    expect(() => boundModelResponse(response)).toThrow(expect.objectContaining({ code: 'model-malformed-response', message: expect.stringMatching(/id of 1000000 characters/) }));
  });

  it('refuses arguments with too many values even when they are small in bytes', async () => {
    echoed = 0;
    const manyKeys = Object.fromEntries(Array.from({ length: 60_000 }, (_, index) => [`k${index}`, 1]));
    const { result, events, journalBytes } = await runOneCall({ name: 'echo', input: { value: manyKeys } });
    expect(result.status).toBe('completed');
    expect(errorOf(events, 'toolu_1')).toMatchObject({ code: 'tool-invalid-input', message: expect.stringMatching(/hold about 600\d\d values; the limit is 10000/) });
    expect(echoed).toBe(1);
    expect(journalBytes).toBeLessThan(8_000);
  });

  it('bounds the arguments of one message together: calls past 4 MiB are refused, and the journal stays small', async () => {
    echoed = 0;
    const calls = Array.from({ length: 40 }, (_, index) => ({ type: 'tool_use', id: `toolu_${index}`, name: 'echo', input: { value: `${index}`.padEnd(200_000, 'x') } }));
    const model = createScriptedModel([assistant(calls), assistant([{ type: 'text', text: 'Done.' }])]);
    const gateway = createGateway(model);
    const { result, events } = await runToEnd(
      defineAgent({ name: 'flood', instructions: 'x', tools: [echo], toolCalls: { maxPerMessage: 100 } }),
      dependenciesFor({ provider: gateway.provider, modelId: gateway.modelId, call: (request, options) => gateway.call(request, options) }),
    );
    expect(result.status).toBe('completed');
    // 20 calls of 200 KB fit in 4 MiB; the rest were refused before anything journaled their arguments.
    expect(echoed).toBe(20);
    expect(errorOf(events, 'toolu_25').message).toMatch(/this message's tool calls carry \d+ bytes of arguments, and the limit for one message is 4194304 bytes/);
    const journalBytes = events.reduce((sum, event) => sum + canonicalJson(event).length, 0);
    expect(journalBytes).toBeLessThan(2 * 4 * 1024 * 1024 + 200_000);
  });

  it('refuses deep arguments in the pipeline too, for a model caller that bypasses the gateway', async () => {
    echoed = 0;
    const model = scriptedCaller([{ content: [toolUse('c1', 'echo', nested(200)), toolUse('c2', 'echo', { value: 1 })] }, { content: [text('ok')] }]);
    const { result, events } = await runToEnd(defineAgent({ name: 'direct', instructions: 'x', tools: [echo] }), dependenciesFor(model));
    expect(result.status).toBe('completed');
    expect(errorOf(events, 'c1')).toMatchObject({ code: 'tool-invalid-input', message: expect.stringContaining('nest 201 levels deep; the limit is 64') });
    expect(events.find((event) => event.type === 'tool-decision' && event.callId === 'c1')).toMatchObject({ decision: 'deny', rule: 'limit:arguments' });
    expect(echoed).toBe(1);
  });

  it('refuses arguments over the byte limit and journals a bounded preview of them', async () => {
    const huge = 'x'.repeat(2 * 1024 * 1024);
    const { result, events, journalBytes } = await runOneCall({ name: 'echo', input: { value: huge } });
    expect(result.status).toBe('completed');
    const error = errorOf(events, 'toolu_1');
    expect(error.code).toBe('tool-invalid-input');
    expect(error.message).toMatch(/are 2097164 bytes of JSON; the limit is 1048576 bytes/);
    expect(error.message.length).toBeLessThan(quotedTextLimit * 2);
    expect(journalBytes).toBeLessThan(8_000);
  });

  it('refuses a megabyte tool name without echoing it anywhere', async () => {
    const name = `delete_${'A'.repeat(1024 * 1024)}`;
    const { result, events, results, journalBytes } = await runOneCall({ name, input: {} });
    expect(result.status).toBe('completed');
    const error = errorOf(events, 'toolu_1');
    expect(error.code).toBe('tool-invalid-input');
    expect(error.message).toContain('bytes omitted');
    expect(error.message).toContain('the limit is 128');
    expect(error.message.length).toBeLessThan(quotedTextLimit * 3);
    expect(results[0]?.content.length).toBeLessThan(quotedTextLimit * 4);
    expect(journalBytes).toBeLessThan(8_000);
  });

  it('refuses a name just over the limit whole, and an unknown name with a bounded quote', async () => {
    const justOver = await runOneCall({ name: 'n'.repeat(129), input: {} });
    expect(errorOf(justOver.events, 'toolu_1').message).toContain(`"${'n'.repeat(129)}" is 129 characters long; the limit is 128`);
    const unknown = await runOneCall({ name: 'u'.repeat(120), input: {} });
    const error = errorOf(unknown.events, 'toolu_1');
    expect(error.code).toBe('tool-unknown');
    expect(error.message).toContain('u'.repeat(120));
  });

  it('bounds malformed argument text quoted back to the model', async () => {
    const model = createScriptedModel([assistant([{ type: 'text', text: 'x' }])]);
    const gateway = createGateway(model);
    const text = `{"value": "${'y'.repeat(500_000)}`;
    const caller = {
      provider: 'test',
      modelId: 'm',
      call: async (request: never, options: never) => {
        const answer = await gateway.call(request, options);
        const index = (request as { messages: { role: string }[] }).messages.filter((message) => message.role === 'assistant').length;
        if (index > 0) return answer;
        return { ...answer, response: { ...answer.response, stopReason: 'tool_use' as const, content: [{ type: 'tool_use' as const, id: 'toolu_1', name: 'echo', input: {}, malformedInput: text }] } };
      },
    };
    const { events } = await runToEnd(defineAgent({ name: 'malformed', instructions: 'x', tools: [echo] }), dependenciesFor(caller));
    const error = errorOf(events, 'toolu_1');
    expect(error.code).toBe('tool-invalid-input');
    expect(error.message.length).toBeLessThan(quotedTextLimit * 3);
  });

  it('honours configured limits, in the gateway and the pipeline alike', async () => {
    const model = createScriptedModel([assistant([{ type: 'tool_use', id: 'toolu_1', name: 'echo', input: { value: [[[1]]] } }]), assistant([{ type: 'text', text: 'ok' }])]);
    const gateway = createGateway(model, { toolCallLimits: { maxArgumentDepth: 3 } });
    const { createToolPipeline } = await import('../../src/tools/index.ts');
    const { events } = await runToEnd(defineAgent({ name: 'strict', instructions: 'x', tools: [echo] }), dependenciesFor(gateway, { tools: createToolPipeline({ toolCallLimits: { maxArgumentDepth: 3 } }) }));
    expect(errorOf(events, 'toolu_1').message).toContain('nest 4 levels deep; the limit is 3');
    expect(() => createGateway(model, { toolCallLimits: { maxArgumentBytes: 0 } })).toThrow(/maxArgumentBytes must be a positive integer/);
    expect(() => createToolPipeline({ toolCallLimits: { maxArgumentDepth: 5_000 } })).toThrow(/maxArgumentDepth may be at most 1000/);
  });

  it('redacts tool output nested 20,000 levels deep as text instead of failing the session', async () => {
    const deepOutput = defineTool({ name: 'deep', description: 'Deep output', input: z.object({}), risk: 'read', execute: () => `["mail ops@example.com",${'['.repeat(20_000)}${']'.repeat(20_000)}]` });
    const model = createScriptedModel([assistant([{ type: 'tool_use', id: 'toolu_1', name: 'deep', input: {} }]), assistant([{ type: 'text', text: 'ok' }])]) as never;
    const keel = createKeel({ database: ':memory:', model });
    try {
      const result = await keel.run(defineAgent({ name: 'deep-output', instructions: 'x', tools: [deepOutput] }), 'go').result;
      expect(result.status).toBe('completed');
      const outcome = (await keel.events(result.sessionId)).find((event) => event.type === 'tool-result');
      expect(outcome?.type === 'tool-result' && outcome.output).toContain('[REDACTED:email]');
      expect(outcome?.type === 'tool-result' && outcome.output).not.toContain('ops@example.com');
    } finally {
      await keel.close();
    }
  });

  it('holds a tool error that echoes its megabyte input to the tool\'s output length', async () => {
    const echoing = defineTool({ name: 'strict', description: 'Fails', input: z.object({ text: z.string() }), risk: 'read', maxOutputChars: 1_000, execute: ({ text }) => {
      throw new Error(`cannot handle ${text}`);
    } });
    const model = createScriptedModel([assistant([{ type: 'tool_use', id: 'toolu_1', name: 'strict', input: { text: 'q'.repeat(900_000) } }]), assistant([{ type: 'text', text: 'ok' }])]);
    const { result, events } = await runToEnd(defineAgent({ name: 'echoing', instructions: 'x', tools: [echoing] }), dependenciesFor(createGateway(model)));
    expect(result.status).toBe('completed');
    const error = errorOf(events, 'toolu_1');
    expect(error.code).toBe('tool-failed');
    expect(error.message).toMatch(/^Tool "strict" failed: cannot handle q+… \(\d+ bytes omitted\)$/);
    expect(error.message.length).toBeLessThan(1_100);
  });

  it('keeps the audit log and journal of the whole runtime bounded too', async () => {
    const model = createScriptedModel([
      assistant([
        { type: 'tool_use', id: 'toolu_1', name: 'echo', input: nested(100_000) },
        { type: 'tool_use', id: 'toolu_2', name: `x${'N'.repeat(1024 * 1024)}`, input: {} },
        { type: 'tool_use', id: 'toolu_3', name: 'echo', input: { value: 'z'.repeat(3 * 1024 * 1024) } },
      ]),
      assistant([{ type: 'text', text: 'done' }]),
    ]) as never;
    const keel = createKeel({ database: ':memory:', model });
    try {
      const result = await keel.run(defineAgent({ name: 'audited', instructions: 'x', tools: [echo] }), 'go').result;
      expect(result.status).toBe('completed');
      const events = await keel.events(result.sessionId);
      expect(events.filter((event) => event.type === 'tool-error').map((event) => (event.type === 'tool-error' ? event.error.code : ''))).toEqual(['tool-invalid-input', 'tool-invalid-input', 'tool-invalid-input']);
      expect(events.reduce((sum, event) => sum + canonicalJson(event).length, 0)).toBeLessThan(12_000);
      const records = [];
      for await (const record of keel.audit.read()) records.push(record);
      expect(records.map((record) => record.decision)).toEqual(['deny', 'deny', 'deny']);
      expect(records.reduce((sum, record) => sum + canonicalJson(record).length, 0)).toBeLessThan(6_000);
      expect((await keel.audit.verify()).ok).toBe(true);
    } finally {
      await keel.close();
    }
  });
});
