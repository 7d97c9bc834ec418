import { describe, expect, it } from 'vitest';
import { toAnthropicParams } from './anthropic-request.ts';
import { toOpenAIParams } from './openai-request.ts';

describe('request mapping edge cases', () => {
  const request = {
    messages: [
      { role: 'assistant' as const, content: [{ type: 'tool_use' as const, id: 't1', name: 'lookup', input: { id: 1 } }] },
      {
        role: 'user' as const,
        content: [
          { type: 'text' as const, text: 'Also, hurry.' },
          { type: 'tool_result' as const, toolUseId: 't1', content: 'found', isError: false },
        ],
      },
      { role: 'assistant' as const, content: [{ type: 'thinking' as const, thinking: 'hmm' }] },
    ],
    tools: [],
    maxOutputTokens: 64,
  };

  it('puts tool results first in an Anthropic user turn, whatever order Keel kept them in', () => {
    const params = toAnthropicParams('claude-haiku-4-5', request);
    expect(params.messages[1]).toEqual({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 't1', content: 'found' },
        { type: 'text', text: 'Also, hurry.' },
      ],
    });
    expect(params.system).toBeUndefined();
    expect(params.tools).toBeUndefined();
  });

  it('puts OpenAI tool messages right after the calling turn and never sends null content without tool calls', () => {
    const params = toOpenAIParams('gpt-4o', request, 'openai');
    expect(params.messages).toEqual([
      { role: 'assistant', content: null, tool_calls: [{ id: 't1', type: 'function', function: { name: 'lookup', arguments: '{"id":1}' } }] },
      { role: 'tool', tool_call_id: 't1', content: 'found' },
      { role: 'user', content: 'Also, hurry.' },
      { role: 'assistant', content: '' },
    ]);
    expect(params.tools).toBeUndefined();
  });
});
