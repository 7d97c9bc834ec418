import { describe, expect, it } from 'vitest';
import type { ModelStreamPart } from '../spec/model.ts';
import { assembleOpenAIStream } from './openai-stream.ts';
import type { OpenAIChunkShape } from './openai-stream.ts';

async function run(chunks: OpenAIChunkShape[], requireUsage = false): Promise<ModelStreamPart[]> {
  async function* source(): AsyncGenerator<OpenAIChunkShape> {
    yield* chunks;
  }
  const parts: ModelStreamPart[] = [];
  for await (const part of assembleOpenAIStream(source(), { modelId: 'local', provider: 'openai-compatible', requireUsage })) parts.push(part);
  return parts;
}

const envelope = { id: 'chatcmpl-9', model: 'qwen3' };

describe('assembleOpenAIStream', () => {
  it('handles what compatible servers send: reasoning, whole calls in one chunk, missing ids, usage on the finish chunk', async () => {
    const parts = await run([
      { ...envelope, choices: [{ index: 0, delta: { reasoning_content: 'Think.' } }] },
      { ...envelope, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { name: 'search', arguments: '{"q":"keel"}' } }] } }] },
      { ...envelope, choices: [{ index: 0, delta: { tool_calls: [{ index: 1, id: 'call_x', function: { arguments: '{"a"' } }] } }] },
      { ...envelope, choices: [{ index: 0, delta: { tool_calls: [{ index: 1, function: { name: 'fetch', arguments: ':1}' } }] } }] },
      { ...envelope, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }], usage: { prompt_tokens: 50, completion_tokens: 9 } },
    ]);
    expect(parts.slice(0, -1)).toEqual([
      { type: 'thinking-delta', text: 'Think.' },
      { type: 'tool-call-start', index: 0, id: 'chatcmpl-9-call-0', name: 'search' },
      { type: 'tool-call-delta', index: 0, argumentsDelta: '{"q":"keel"}' },
      // The start waits for the name; arguments that came before it follow at once.
      { type: 'tool-call-start', index: 1, id: 'call_x', name: 'fetch' },
      { type: 'tool-call-delta', index: 1, argumentsDelta: '{"a":1}' },
    ]);
    expect(parts.at(-1)).toEqual({
      type: 'finish',
      response: {
        id: 'chatcmpl-9',
        model: 'qwen3',
        content: [
          { type: 'thinking', thinking: 'Think.' },
          { type: 'tool_use', id: 'chatcmpl-9-call-0', name: 'search', input: { q: 'keel' } },
          { type: 'tool_use', id: 'call_x', name: 'fetch', input: { a: 1 } },
        ],
        stopReason: 'tool_use',
        providerStopReason: 'tool_calls',
        usage: { inputTokens: 50, outputTokens: 9, cacheReadTokens: 0, cacheWriteTokens: 0 },
      },
    });
  });

  it('reads the legacy function_call delta as a tool call', async () => {
    const parts = await run([
      { ...envelope, choices: [{ index: 0, delta: { function_call: { name: 'lookup', arguments: '{"id"' } } }] },
      { ...envelope, choices: [{ index: 0, delta: { function_call: { arguments: ':7}' } } }] },
      { ...envelope, choices: [{ index: 0, delta: {}, finish_reason: 'function_call' }] },
    ]);
    const finish = parts.at(-1);
    expect(finish?.type === 'finish' && [finish.response.stopReason, finish.response.content]).toEqual([
      'tool_use',
      [{ type: 'tool_use', id: 'chatcmpl-9-function-call', name: 'lookup', input: { id: 7 } }],
    ]);
  });

  it('is cut without a finish reason, and without usage when usage is required', async () => {
    const noFinish = await run([{ ...envelope, choices: [{ index: 0, delta: { content: 'Hel' } }] }]).catch((thrown: unknown) => thrown);
    expect(noFinish).toMatchObject({ code: 'model-stream-cut', retryable: true });
    const noUsage = await run([{ ...envelope, choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: 'stop' }] }], true).catch((thrown: unknown) => thrown);
    expect(noUsage).toMatchObject({ code: 'model-stream-cut' });
  });
});
