import { describe, expect, it } from 'vitest';
import type { ModelStreamPart } from '../spec/model.ts';
import { assembleAnthropicStream } from './anthropic-stream.ts';
import type { AnthropicStreamEvent } from './anthropic-stream.ts';

async function run(events: AnthropicStreamEvent[]): Promise<ModelStreamPart[]> {
  async function* source(): AsyncGenerator<AnthropicStreamEvent> {
    yield* events;
  }
  const parts: ModelStreamPart[] = [];
  for await (const part of assembleAnthropicStream(source(), 'claude-haiku-4-5')) parts.push(part);
  return parts;
}

const start = { type: 'message_start', message: { id: 'msg_1', model: 'claude-haiku-4-5', usage: { input_tokens: 10, output_tokens: 1, cache_read_input_tokens: 3, cache_creation_input_tokens: null } } };

describe('assembleAnthropicStream', () => {
  it('skips unknown events and deltas, keeps server-tool blocks whole, and takes later cumulative usage over earlier', async () => {
    const parts = await run([
      start,
      { type: 'content_block_start', index: 0, content_block: { type: 'server_tool_use', id: 'srv_1', name: 'web_search', input: {} } },
      { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: '{"q":"x"}' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 1, delta: { type: 'citations_delta', citation: {} } },
      { type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Answer.' } },
      { type: 'content_block_stop', index: 1 },
      { type: 'brand_new_event', payload: 1 },
      { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 40, input_tokens: 12, cache_read_input_tokens: null } },
      { type: 'message_stop' },
    ]);
    expect(parts).toEqual([
      { type: 'text-delta', text: 'Answer.' },
      {
        type: 'finish',
        response: {
          id: 'msg_1',
          model: 'claude-haiku-4-5',
          content: [
            { type: 'hosted_tool', provider: 'anthropic', kind: 'server_tool_use', name: 'web_search', id: 'srv_1', data: { type: 'server_tool_use', id: 'srv_1', name: 'web_search', input: { q: 'x' } } },
            { type: 'text', text: 'Answer.' },
          ],
          stopReason: 'end_turn',
          providerStopReason: 'end_turn',
          usage: { inputTokens: 12, outputTokens: 40, cacheReadTokens: 3, cacheWriteTokens: 0 },
        },
      },
    ]);
  });

  it('numbers tool calls among tool calls and reads an argument-less call as {}', async () => {
    const parts = await run([
      start,
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_a', name: 'now', input: {} } },
      { type: 'content_block_stop', index: 1 },
      { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 5 } },
      { type: 'message_stop' },
    ]);
    expect(parts[0]).toEqual({ type: 'tool-call-start', index: 0, id: 'toolu_a', name: 'now' });
    const finish = parts.at(-1);
    expect(finish?.type === 'finish' && finish.response.content).toEqual([
      { type: 'text', text: '' },
      { type: 'tool_use', id: 'toolu_a', name: 'now', input: {} },
    ]);
  });

  it('fails with a retryable cut when message_stop never comes', async () => {
    const error = await run([start, { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 5 } }]).catch((thrown: unknown) => thrown);
    expect(error).toMatchObject({ code: 'model-stream-cut', retryable: true });
  });
});
