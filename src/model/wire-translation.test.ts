import { describe, expect, it } from 'vitest';
import type { ModelRequest } from '../spec/model.ts';
import { anthropicToolId, toAnthropicParams } from './anthropic-request.ts';
import { fromAnthropicMessage } from './anthropic-response.ts';
import { anthropicHostedTools, hostedToolCost, openAIHostedTools } from './hosted-tools.ts';
import { toOpenAIParams } from './openai-request.ts';
import { fromOpenAICompletion } from './openai-response.ts';
import { costOf } from './pricing.ts';
import { promptCacheSavings } from './prompt-cache.ts';

const conversation: ModelRequest = {
  system: 'Answer about orders.',
  messages: [
    { role: 'user', content: [{ type: 'text', text: 'Where is order 7?' }] },
    {
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: 'Look it up.', signature: 'sig' },
        { type: 'tool_use', id: 'functions.lookup:0', name: 'lookup', input: { id: '7' } },
      ],
    },
    { role: 'user', content: [{ type: 'tool_result', toolUseId: 'functions.lookup:0', content: 'Shipped.', isError: false }] },
  ],
  tools: [{ name: 'lookup', description: 'Looks an order up.', inputSchema: { properties: { id: { type: 'string' } } } }],
  maxOutputTokens: 100,
};

describe('Anthropic request translation', () => {
  it('marks the last tool, the system prompt and the last markable block before the newest message, with the 1-hour ttl when asked', () => {
    const params = toAnthropicParams('claude-sonnet-4-6', { ...conversation, promptCaching: { ttl: '1h' } });
    const control = { type: 'ephemeral', ttl: '1h' };
    expect(params.system).toEqual([{ type: 'text', text: 'Answer about orders.', cache_control: control }]);
    expect(params.tools?.[0]).toMatchObject({ name: 'lookup', cache_control: control });
    const history = params.messages[1]?.content as { type: string; cache_control?: unknown }[];
    // The thinking block cannot carry a breakpoint, so the tool call after it does.
    expect(history.map((block) => [block.type, block.cache_control])).toEqual([
      ['thinking', undefined],
      ['tool_use', control],
    ]);
    expect(JSON.stringify(params.messages[2])).not.toContain('cache_control');
    expect(JSON.stringify(toAnthropicParams('claude-sonnet-4-6', conversation))).not.toContain('cache_control');
  });

  it('rewrites tool ids Anthropic would refuse, the same way in the call and its result', () => {
    const params = toAnthropicParams('claude-sonnet-4-6', conversation);
    const call = (params.messages[1]?.content as { type: string; id?: string }[])[1];
    const result = (params.messages[2]?.content as { type: string; tool_use_id?: string }[])[0];
    expect(call?.id).toMatch(/^[a-zA-Z0-9_-]+$/);
    expect(call?.id).toBe(result?.tool_use_id);
    expect(anthropicToolId('toolu_01A')).toBe('toolu_01A');
    expect(anthropicToolId('a.b')).not.toBe(anthropicToolId('a:b'));
  });

  it('sends hosted tools as server tools and keeps their blocks and uses from the response', () => {
    expect(anthropicHostedTools([{ name: 'web_fetch', allowedDomains: ['example.com'] }, { name: 'code_execution' }])).toEqual([
      { type: 'web_fetch_20250910', name: 'web_fetch', allowed_domains: ['example.com'] },
      { type: 'code_execution_20250825', name: 'code_execution' },
    ]);
    const response = fromAnthropicMessage({
      id: 'msg_1',
      model: 'claude-haiku-4-5',
      content: [
        { type: 'server_tool_use', id: 'srvtoolu_1', name: 'code_execution', input: { code: 'print(1)' } },
        { type: 'code_execution_tool_result', tool_use_id: 'srvtoolu_1', content: { type: 'code_execution_result', stdout: '1', stderr: '', return_code: 0 } },
        { type: 'redacted_thinking', data: 'x' },
        { type: 'text', text: 'It prints 1.' },
      ],
      stop_reason: 'end_turn',
      usage: { input_tokens: 10, output_tokens: 5, server_tool_use: { web_search_requests: 2, web_fetch_requests: 1 } },
    });
    expect(response.content.map((block) => block.type)).toEqual(['hosted_tool', 'hosted_tool', 'text']);
    expect(response.hostedToolUse).toEqual({ web_search: 2, web_fetch: 1, code_execution: 1 });
    expect(hostedToolCost('anthropic', response.hostedToolUse)).toBe(0.02);
    // Sent back to Anthropic as they came; another provider never sees them.
    const echoed = toAnthropicParams('claude-haiku-4-5', { messages: [{ role: 'assistant', content: response.content }], tools: [], maxOutputTokens: 10 });
    expect((echoed.messages[0]?.content as { type: string }[]).map((block) => block.type)).toEqual(['server_tool_use', 'code_execution_tool_result', 'text']);
    const toOpenAI = toOpenAIParams('gpt-4.1', { messages: [{ role: 'assistant', content: response.content }], tools: [], maxOutputTokens: 10 }, 'openai');
    expect(toOpenAI.messages).toEqual([{ role: 'assistant', content: 'It prints 1.' }]);
  });
});

describe('OpenAI request translation', () => {
  it('sends top_p, seed and stop, and web search as web_search_options; refuses the hosted tools Chat Completions lacks', () => {
    const params = toOpenAIParams('gpt-4o-search-preview', { ...conversation, temperature: 0, topP: 0.5, seed: 42, stopSequences: ['END'], hostedTools: [{ name: 'web_search' }] }, 'openai');
    expect(params).toMatchObject({ temperature: 0, top_p: 0.5, seed: 42, stop: ['END'], web_search_options: {} });
    expect(() => openAIHostedTools([{ name: 'code_execution' }], 'gpt-4.1')).toThrow(/not available on Chat Completions/);
  });

  it('keeps web search citations as a hosted block', () => {
    const response = fromOpenAICompletion({
      id: 'chatcmpl-1',
      model: 'gpt-4o-search-preview',
      choices: [{ finish_reason: 'stop', message: { content: 'Keel shipped.', annotations: [{ type: 'url_citation', url_citation: { url: 'https://example.com', title: 'Keel', start_index: 0, end_index: 4 } }] } }],
      usage: { prompt_tokens: 10, completion_tokens: 3 },
    });
    expect(response.content).toEqual([
      { type: 'text', text: 'Keel shipped.' },
      { type: 'hosted_tool', provider: 'openai', kind: 'annotations', name: 'web_search', data: { annotations: [{ type: 'url_citation', url_citation: { url: 'https://example.com', title: 'Keel', start_index: 0, end_index: 4 } }] } },
    ]);
  });
});

describe('prompt cache pricing', () => {
  it('prices one-hour writes at twice the input rate and reports what caching saved', () => {
    const usage = { inputTokens: 100, outputTokens: 10, cacheReadTokens: 0, cacheWriteTokens: 1_000, cacheWriteLongTokens: 1_000 };
    expect(costOf('anthropic', 'claude-sonnet-4-6', usage)).toBeCloseTo((100 * 3 + 10 * 15 + 1_000 * 6) / 1e6, 10);
    expect(promptCacheSavings('anthropic', 'claude-sonnet-4-6', { inputTokens: 100, outputTokens: 10, cacheReadTokens: 1_000, cacheWriteTokens: 0 })).toBeCloseTo((1_000 * 2.7) / 1e6, 10);
    expect(promptCacheSavings('openai-compatible', 'llama3.1', { inputTokens: 1, outputTokens: 1, cacheReadTokens: 5, cacheWriteTokens: 0 })).toBeNull();
  });
});
