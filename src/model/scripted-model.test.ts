import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KeelError } from '../errors/index.ts';
import type { Message } from '../spec/message.ts';
import type { ModelRequest, ModelStreamPart } from '../spec/model.ts';
import { createScriptedModel, estimateUsage, loadScriptedModel } from './scripted-model.ts';
import type { ScriptedResponseInput } from './scripted-script.ts';

const script: ScriptedResponseInput[] = [
  {
    role: 'assistant',
    content: [
      { type: 'thinking', thinking: 'Look the order up first.', signature: 'sig-1' },
      { type: 'text', text: 'Let me look that order up for you.' },
      { type: 'tool_use', name: 'lookup_order', input: { orderId: 'ord_42' } },
    ],
    usage: { input_tokens: 120, output_tokens: 30, cache_read_input_tokens: 10 },
    model: 'claude-sonnet-4-5',
  },
  { role: 'assistant', content: [{ type: 'text', text: 'Your order ships tomorrow.' }] },
];

const user: Message = { role: 'user', content: [{ type: 'text', text: 'Where is my order?' }] };
const firstTurn: ModelRequest = { system: 'Support agent.', messages: [user], tools: [], maxOutputTokens: 100 };
const secondTurn: ModelRequest = {
  ...firstTurn,
  messages: [
    user,
    { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_scripted_1_1', name: 'lookup_order', input: { orderId: 'ord_42' } }] },
    { role: 'user', content: [{ type: 'tool_result', toolUseId: 'toolu_scripted_1_1', content: 'ships tomorrow', isError: false }] },
  ],
};
const signal = (): AbortSignal => new AbortController().signal;

describe('createScriptedModel', () => {
  it('plays the entry whose index is the number of assistant messages so far, the same on every call', async () => {
    const model = createScriptedModel(script);
    const first = await model.generate(firstTurn, signal());
    expect(first).toEqual({
      id: 'msg_scripted_1',
      model: 'claude-sonnet-4-5',
      content: [
        { type: 'thinking', thinking: 'Look the order up first.', signature: 'sig-1' },
        { type: 'text', text: 'Let me look that order up for you.' },
        { type: 'tool_use', id: 'toolu_scripted_1_1', name: 'lookup_order', input: { orderId: 'ord_42' } },
      ],
      stopReason: 'tool_use',
      providerStopReason: 'tool_use',
      usage: { inputTokens: 120, outputTokens: 30, cacheReadTokens: 10, cacheWriteTokens: 0 },
    });
    // A resumed session asks again for the same turn and must get the same answer.
    expect(await createScriptedModel(script).generate(firstTurn, signal())).toEqual(first);
    const second = await model.generate(secondTurn, signal());
    expect(second.content).toEqual([{ type: 'text', text: 'Your order ships tomorrow.' }]);
    expect(second.stopReason).toBe('end_turn');
    expect(second.model).toBe('scripted');
  });

  it('estimates usage at a token per four characters when the script gives none', async () => {
    const response = await createScriptedModel(script).generate(secondTurn, signal());
    const prompt = JSON.stringify({ system: 'Support agent.', messages: secondTurn.messages, tools: [] });
    expect(response.usage.inputTokens).toBe(Math.ceil(prompt.length / 4));
    expect(response.usage.outputTokens).toBe(Math.ceil(JSON.stringify(response.content).length / 4));
    expect(estimateUsage(secondTurn, response.content)).toEqual(response.usage);
  });

  it('maps declared stop reasons, including the context-window one', async () => {
    const model = createScriptedModel([{ content: [{ type: 'text', text: 'cut' }], stop_reason: 'model_context_window_exceeded' }]);
    const response = await model.generate(firstTurn, signal());
    expect([response.stopReason, response.providerStopReason]).toEqual(['context_window_exceeded', 'model_context_window_exceeded']);
  });

  it('fails clearly when the session asks for more responses than the script has', async () => {
    const model = createScriptedModel(script.slice(0, 1), { source: 'demo.json' });
    const error = (await model.generate(secondTurn, signal()).catch((thrown: unknown) => thrown)) as KeelError;
    expect(error).toBeInstanceOf(KeelError);
    expect(error.code).toBe('invalid-config');
    expect(error.message).toContain('demo.json: the script has 1 response; the session asked for response 2');
  });

  it('streams real parts that add up to the response', async () => {
    const model = createScriptedModel(script, { modelId: 'demo' });
    const parts: ModelStreamPart[] = [];
    for await (const part of model.stream(firstTurn, signal())) parts.push(part);
    const finish = parts.at(-1);
    expect(finish).toEqual({ type: 'finish', response: await model.generate(firstTurn, signal()) });
    const text = parts.filter((part) => part.type === 'text-delta');
    expect(text.length).toBeGreaterThan(1);
    expect(text.map((part) => part.text).join('')).toBe('Let me look that order up for you.');
    expect(parts.filter((part) => part.type === 'thinking-delta').map((part) => part.text).join('')).toBe('Look the order up first.');
    expect(parts.find((part) => part.type === 'tool-call-start')).toEqual({ type: 'tool-call-start', index: 0, id: 'toolu_scripted_1_1', name: 'lookup_order' });
    const argumentsText = parts.flatMap((part) => (part.type === 'tool-call-delta' ? [part.argumentsDelta] : [])).join('');
    expect(JSON.parse(argumentsText)).toEqual({ orderId: 'ord_42' });
    expect(model.provider).toBe('scripted');
    expect(model.modelId).toBe('demo');
  });

  it('honours an aborted signal', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = (await createScriptedModel(script).generate(firstTurn, controller.signal).catch((thrown: unknown) => thrown)) as KeelError;
    expect(error.code).toBe('cancelled');
  });

  it('rejects an invalid script, saying where', () => {
    const invalid = [{ content: [{ type: 'text', text: 'fine' }] }, { content: [{ type: 'tool_use', input: {} }] }] as unknown as ScriptedResponseInput[];
    expect(() => createScriptedModel(invalid, { source: 'bad.json' })).toThrow(/bad\.json.*response 2 at content\[0\]\.name/);
  });
});

describe('loadScriptedModel', () => {
  const directory = mkdtempSync(join(tmpdir(), 'keel-script-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('loads a script file', async () => {
    const file = join(directory, 'ok.json');
    writeFileSync(file, JSON.stringify(script));
    const response = await loadScriptedModel(file).generate(firstTurn, signal());
    expect(response.content.at(-1)).toEqual({ type: 'tool_use', id: 'toolu_scripted_1_1', name: 'lookup_order', input: { orderId: 'ord_42' } });
  });

  it.each([
    ['missing.json', null, /missing\.json: the file does not exist/],
    ['broken.json', '[{"content": ', /broken\.json is not valid JSON/],
    ['object.json', '{"content": []}', /object\.json is not a JSON array.*the script: /],
    ['stop.json', '[{"content": [], "stop_reason": "done"}]', /stop\.json.*response 1 at stop_reason/],
  ])('rejects %s with an invalid-config error naming the file', (name, text, message) => {
    const file = join(directory, name);
    if (text !== null) writeFileSync(file, text);
    let thrown: unknown;
    try {
      loadScriptedModel(file);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(KeelError);
    expect((thrown as KeelError).code).toBe('invalid-config');
    expect((thrown as KeelError).message).toMatch(message);
  });
});
