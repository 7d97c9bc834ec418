import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createKeel, createMemoryBlobStore, createMemoryJournal, defineAgent, defineTool } from '../../src/index.ts';
import { createAnthropicModel, createOpenAIModel } from '../../src/model/index.ts';
import { createModelRouter } from '../../src/model/model-router.ts';
import { costOf } from '../../src/model/pricing.ts';
import type { ModelResponseEvent, SessionEvent } from '../../src/spec/events.ts';
import type { Model } from '../../src/spec/model.ts';
import { startMockAnthropicServer, startMockOpenAIServer } from '../../src/testing/index.ts';
import type { AnthropicMockReply, MockServer, OpenAIMockReply } from '../../src/testing/index.ts';
import { sendJson, startMockHttpServer } from '../../src/testing/mock-http-server.ts';
import { buildTraceTree, renderTraceTree } from '../../src/tracing/index.ts';

const servers: MockServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function anthropic(script: (index: number) => AnthropicMockReply): Promise<MockServer> {
  const server = await startMockAnthropicServer({ script: (_body, index) => script(index) });
  servers.push(server);
  return server;
}

async function openai(script: (index: number) => OpenAIMockReply): Promise<MockServer> {
  const server = await startMockOpenAIServer({ script: (_body, index) => script(index) });
  servers.push(server);
  return server;
}

const lookup = defineTool({ name: 'lookup_order', description: 'Looks up an order.', input: z.object({ orderId: z.string() }), risk: 'read', execute: async ({ orderId }) => `Order ${orderId} shipped on Monday.` });
const memoryKeel = (models: Record<string, Model>, model: string) => createKeel({ journal: createMemoryJournal(), blobs: createMemoryBlobStore(), models, model });
const responses = (events: readonly SessionEvent[]): ModelResponseEvent[] => events.filter((event): event is ModelResponseEvent => event.type === 'model-response');

describe('routes in a session', () => {
  it('falls back across three accounts with one failing, journaling each attempt, and shows them in the trace', async () => {
    const down = await anthropic(() => ({ fault: 'rate-limit' }));
    const up = await anthropic((index) => (index === 0 ? { content: [{ type: 'tool_use', name: 'lookup_order', input: { orderId: '1042' } }] } : { content: [{ type: 'text', text: 'It shipped on Monday.' }] }));
    const spare = await anthropic(() => ({ content: [{ type: 'text', text: 'Never used.' }] }));
    const route = createModelRouter({
      name: 'support',
      entries: [down, up, spare].map((server, index) => ({ account: ['down', 'up', 'spare'][index] as string, model: createAnthropicModel({ modelId: 'claude-haiku-4-5', baseURL: server.baseURL, apiKey: 'key' }) })),
      circuitBreaker: { failureThreshold: 1, openMs: 60_000 },
    });
    const keel = memoryKeel({ support: route }, 'support');
    const agent = defineAgent({ name: 'support', instructions: 'Answer about orders.', tools: [lookup] });
    const result = await keel.run(agent, 'Where is order 1042?').result;
    expect(result.status).toBe('completed');
    const events = await keel.events(result.sessionId);
    const [first, second] = responses(events);
    expect(first?.account).toBe('up');
    expect(first?.attempts?.map((attempt) => [attempt.account, attempt.outcome, attempt.reason])).toEqual([
      ['down', 'failed', 'rate-limited'],
      ['up', 'answered', undefined],
    ]);
    // The failure opened the circuit: the second turn skipped the account without calling it.
    expect(second?.attempts?.[0]).toMatchObject({ account: 'down', outcome: 'skipped', reason: 'circuit-open:account' });
    expect(down.requests).toHaveLength(1);
    expect(spare.requests).toHaveLength(0);
    const trace = renderTraceTree(buildTraceTree(events));
    expect(trace).toMatch(/attempt down anthropic:claude-haiku-4-5 failed rate-limited \(model-rate-limited\)/);
    expect(trace).toContain('account=up');
    await keel.close();
  });

  it('translates a conversation across providers in both directions: tool calls, tool results, stop reasons', async () => {
    const primary = await anthropic((index) => {
      if (index === 0) return { content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_01A', name: 'lookup_order', input: { orderId: '1042' } }] };
      if (index === 1) return { fault: 'overloaded' };
      return { content: [{ type: 'text', text: 'Order 1042 and 7 both shipped.' }] };
    });
    const secondary = await openai(() => ({ toolCalls: [{ id: 'call_B7', name: 'lookup_order', arguments: { orderId: '7' } }] }));
    const route = createModelRouter({
      name: 'cross',
      entries: [
        { account: 'anthropic', model: createAnthropicModel({ modelId: 'claude-haiku-4-5', baseURL: primary.baseURL, apiKey: 'key' }) },
        { account: 'openai', model: createOpenAIModel({ modelId: 'gpt-4.1-mini', baseURL: secondary.baseURL, apiKey: 'key' }) },
      ],
      circuitBreaker: { failureThreshold: 5 },
    });
    const keel = memoryKeel({ cross: route }, 'cross');
    const result = await keel.run(defineAgent({ name: 'cross', instructions: 'Answer about orders.', tools: [lookup] }), 'Where are orders 1042 and 7?').result;
    expect(result.status).toBe('completed');
    expect(responses(await keel.events(result.sessionId)).map((event) => [event.account, event.stopReason])).toEqual([
      ['anthropic', 'tool_use'],
      ['openai', 'tool_use'],
      ['anthropic', 'end_turn'],
    ]);
    // OpenAI received Anthropic's call and its result in its own shape.
    const toOpenAI = secondary.requests[0]?.body as { messages: { role: string; tool_calls?: { id: string; function: { name: string; arguments: string } }[]; tool_call_id?: string; content?: unknown }[] };
    expect(toOpenAI.messages.map((message) => message.role).slice(0, 4)).toEqual(['system', 'user', 'assistant', 'tool']);
    expect(toOpenAI.messages[2]).toMatchObject({ content: 'Checking.', tool_calls: [{ id: 'toolu_01A', type: 'function', function: { name: 'lookup_order', arguments: '{"orderId":"1042"}' } }] });
    expect(toOpenAI.messages[3]).toMatchObject({ tool_call_id: 'toolu_01A' });
    expect(String(toOpenAI.messages[3]?.content)).toContain('Order 1042 shipped on Monday.');
    // And Anthropic received OpenAI's call and its result in its own.
    const toAnthropic = primary.requests[2]?.body as { messages: { role: string; content: { type: string; id?: string; tool_use_id?: string; input?: unknown; content?: unknown }[] }[] };
    expect(toAnthropic.messages[3]).toEqual({ role: 'assistant', content: [{ type: 'tool_use', id: 'call_B7', name: 'lookup_order', input: { orderId: '7' } }] });
    expect(toAnthropic.messages[4]?.content[0]).toMatchObject({ type: 'tool_result', tool_use_id: 'call_B7' });
    expect(String(toAnthropic.messages[4]?.content[0]?.content)).toContain('Order 7 shipped on Monday.');
    await keel.close();
  });

  it('counts a hedged call once: the session usage is the winning attempt’s', async () => {
    const warm = 20;
    const slow = await anthropic((index) => (index < warm ? { content: [{ type: 'text', text: 'warm' }], usage: { input_tokens: 1, output_tokens: 1 } } : { fault: 'slow-first-byte', delayMs: 5_000, response: { content: [{ type: 'text', text: 'late' }], usage: { input_tokens: 9_000, output_tokens: 900 } } }));
    const fast = await anthropic(() => ({ content: [{ type: 'text', text: 'Hedged answer.' }], usage: { input_tokens: 300, output_tokens: 30 } }));
    const route = createModelRouter({
      name: 'hedged',
      entries: [
        { account: 'slow', model: createAnthropicModel({ modelId: 'claude-haiku-4-5', baseURL: slow.baseURL, apiKey: 'key' }) },
        { account: 'fast', model: createAnthropicModel({ modelId: 'claude-haiku-4-5', baseURL: fast.baseURL, apiKey: 'key' }) },
      ],
      hedge: { minSamples: warm, minDelayMs: 150 },
    });
    const signal = new AbortController().signal;
    for (let index = 0; index < warm; index += 1) await route.call({ messages: [{ role: 'user', content: [{ type: 'text', text: 'warm up' }] }], tools: [], maxOutputTokens: 16 }, { signal, streaming: true });
    const keel = memoryKeel({ hedged: route }, 'hedged');
    const result = await keel.run(defineAgent({ name: 'hedged', instructions: 'Answer.' }), 'Answer quickly.').result;
    expect(result.output).toBe('Hedged answer.');
    expect(result.usage).toEqual({ inputTokens: 300, outputTokens: 30, cacheReadTokens: 0, cacheWriteTokens: 0 });
    expect(result.costUsd).toBe(costOf('anthropic', 'claude-haiku-4-5', result.usage));
    const [response] = responses(await keel.events(result.sessionId));
    expect(response?.attempts?.map((attempt) => [attempt.account, attempt.outcome, attempt.reason])).toEqual([
      ['slow', 'cancelled', 'hedge-lost'],
      ['fast', 'answered', 'hedge-won'],
    ]);
    expect(response?.firstTokenMs).toBeGreaterThanOrEqual(0);
    await keel.close();
  });
});

describe('prompt caching, parameters and hosted tools in a session', () => {
  it('puts cache breakpoints on tools, system and the history before the newest message, and reports the saving in the session cost', async () => {
    const server = await anthropic((index) =>
      index === 0
        ? { content: [{ type: 'tool_use', name: 'lookup_order', input: { orderId: '1042' } }], usage: { input_tokens: 50, output_tokens: 20, cache_creation_input_tokens: 2_000 } }
        : { content: [{ type: 'text', text: 'Shipped Monday.' }], usage: { input_tokens: 80, output_tokens: 10, cache_read_input_tokens: 2_000 } },
    );
    const model = createAnthropicModel({ modelId: 'claude-sonnet-4-6', baseURL: server.baseURL, apiKey: 'key' });
    const keel = memoryKeel({ sonnet: model }, 'sonnet');
    const agent = defineAgent({ name: 'cached', instructions: 'Answer about orders.', tools: [lookup], modelSettings: { promptCaching: true, stopSequences: ['END'], temperature: 0.2 } });
    const result = await keel.run(agent, 'Where is order 1042?').result;
    expect(result.status).toBe('completed');

    const second = server.requests[1]?.body as { system: { type: string; text: string; cache_control?: unknown }[]; tools: { name: string; cache_control?: unknown }[]; messages: { content: { type: string; cache_control?: unknown }[] }[]; stop_sequences: string[]; temperature?: number };
    expect(second.system).toHaveLength(1);
    expect(second.system[0]?.text.startsWith('Answer about orders.')).toBe(true);
    expect(second.system[0]?.cache_control).toEqual({ type: 'ephemeral' });
    expect(second.tools.at(-1)?.cache_control).toEqual({ type: 'ephemeral' });
    expect(second.messages).toHaveLength(3);
    expect(second.messages[1]?.content.at(-1)?.cache_control).toEqual({ type: 'ephemeral' });
    expect(second.messages[2]?.content.some((block) => block.cache_control !== undefined)).toBe(false);
    expect(second.stop_sequences).toEqual(['END']);
    expect(second.temperature).toBeUndefined();

    const events = await keel.events(result.sessionId);
    const request = events.find((event) => event.type === 'model-request');
    expect(request?.type === 'model-request' && request.parameters).toEqual({ temperature: 0.2, stopSequences: ['END'], promptCaching: true });
    const [write, read] = responses(events);
    expect(write?.unsentParameters).toEqual(['temperature']);
    // Writing cost 0.25 × input extra per token; reading saved 0.9 × input per token ($3 per million on Sonnet 4.6).
    expect(write?.cacheSavingsUsd).toBeCloseTo(-2_000 * 0.25 * 3e-6, 10);
    expect(read?.cacheSavingsUsd).toBeCloseTo(2_000 * 0.9 * 3e-6, 10);
    expect(result.costUsd).toBeCloseTo((50 * 3 + 20 * 15 + 2_000 * 3.75 + 80 * 3 + 10 * 15 + 2_000 * 0.3) / 1e6, 10);
    const tree = buildTraceTree(events);
    expect(tree.totals.cacheSavingsUsd).toBeCloseTo(2_000 * 0.65 * 3e-6, 10);
    expect(renderTraceTree(tree)).toContain('prompt cache saved $');
    await keel.close();
  });

  it('sends temperature, top-p, seed and stop sequences to OpenAI, the run over the agent', async () => {
    const server = await openai(() => ({ content: 'Done.' }));
    const keel = memoryKeel({ mini: createOpenAIModel({ modelId: 'gpt-4.1-mini', baseURL: server.baseURL, apiKey: 'key' }) }, 'mini');
    const agent = defineAgent({ name: 'sampler', instructions: 'Answer.', modelSettings: { temperature: 0.7, topP: 0.9, seed: 7 } });
    const result = await keel.run(agent, { task: 'Go.', modelSettings: { temperature: 0, stopSequences: ['\n\n'] } }).result;
    expect(result.status).toBe('completed');
    expect(server.requests[0]?.body).toMatchObject({ temperature: 0, top_p: 0.9, seed: 7, stop: ['\n\n'] });
    expect(() => keel.run(agent, { task: 'Go.', modelSettings: { topP: 3 } })).toThrow(/topP must be above 0 and at most 1/);
    await keel.close();
  });

  it('enables hosted tools only with their scope and the policy’s consent, sends them, keeps their blocks and prices their uses', async () => {
    expect(() => defineAgent({ name: 'searcher', instructions: 'Search.', modelSettings: { hostedTools: [{ name: 'web_search' }] } })).toThrow(/needs the scope 'hosted:web_search'/);
    const agent = defineAgent({ name: 'searcher', instructions: 'Search.', scopes: ['hosted:web_search'], streaming: false, modelSettings: { hostedTools: [{ name: 'web_search', maxUses: 2 }] } });
    const denying = createKeel({ journal: createMemoryJournal(), blobs: createMemoryBlobStore(), model: 'scripted:none.json', policy: { rules: [{ name: 'no-web', tools: ['web_search'], decision: 'deny', reason: 'No web access from this deployment' }] } });
    expect(() => denying.run(agent, 'Find it.')).toThrow(/may not enable the hosted tool 'web_search' \(rule no-web\)/);

    const server = await startMockHttpServer(async (exchange) => {
      const body = exchange.request.body as { model: string };
      sendJson(exchange.response, 200, {
        id: 'msg_hosted',
        type: 'message',
        role: 'assistant',
        model: body.model,
        content: [
          { type: 'server_tool_use', id: 'srvtoolu_1', name: 'web_search', input: { query: 'keel release' } },
          { type: 'web_search_tool_result', tool_use_id: 'srvtoolu_1', content: [{ type: 'web_search_result', url: 'https://example.com/keel', title: 'Keel', encrypted_content: 'abc', page_age: null }] },
          { type: 'text', text: 'Keel was released today.' },
        ],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: 500, output_tokens: 40, server_tool_use: { web_search_requests: 1, web_fetch_requests: 0 } },
      });
    }, '');
    servers.push(server);
    const keel = memoryKeel({ haiku: createAnthropicModel({ modelId: 'claude-haiku-4-5', baseURL: server.baseURL, apiKey: 'key' }) }, 'haiku');
    const result = await keel.run(agent, 'When was Keel released?').result;
    expect(result.output).toBe('Keel was released today.');
    expect((server.requests[0]?.body as { tools: unknown[] }).tools).toEqual([{ type: 'web_search_20250305', name: 'web_search', max_uses: 2 }]);
    const events = await keel.events(result.sessionId);
    const [response] = responses(events);
    expect(response?.content.map((block) => (block.type === 'hosted_tool' ? `${block.kind}:${block.id}` : block.type))).toEqual(['server_tool_use:srvtoolu_1', 'web_search_tool_result:srvtoolu_1', 'text']);
    expect(response?.hostedToolUse).toEqual({ web_search: 1 });
    expect(result.costUsd).toBeCloseTo((500 * 1 + 40 * 5) / 1e6 + 0.01, 10);
    expect(renderTraceTree(buildTraceTree(events))).toContain('hosted web_search×1');
    await keel.close();
  });
});
