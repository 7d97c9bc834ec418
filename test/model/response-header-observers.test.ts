import { afterEach, describe, expect, it } from 'vitest';
import { createKeel, defineAgent, observingResponseHeaders, reportingFetch } from '../../src/index.ts';
import type { Model, ModelResponse } from '../../src/spec/model.ts';
import { createAnthropicModel, createGateway, createOpenAIModel } from '../../src/model/index.ts';
import { createMemoryLimitStore, createModelLimiter } from '../../src/model/limits/index.ts';
import { reportResponseHeaders, watchResponseHeaders } from '../../src/model/limits/response-headers.ts';
import type { ModelRequest } from '../../src/spec/model.ts';
import type { ObserveLimitRequest, ProviderLimitStore } from '../../src/spec/provider-limits.ts';
import { createMockRateLimiter, startMockAnthropicServer, startMockOpenAIServer } from '../../src/testing/index.ts';
import type { MockServer } from '../../src/testing/index.ts';

let server: MockServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const request: ModelRequest = { messages: [{ role: 'user', content: [{ type: 'text', text: 'hello' }] }], tools: [], maxOutputTokens: 64 };

/** A memory store that keeps what the limiter learned from response headers. */
function observingStore(): { store: ProviderLimitStore; observed: ObserveLimitRequest[] } {
  const inner = createMemoryLimitStore();
  const observed: ObserveLimitRequest[] = [];
  const store: ProviderLimitStore = {
    ...inner,
    observe: (observe) => {
      observed.push(observe);
      return inner.observe(observe);
    },
  };
  return { store, observed };
}

describe('response headers reach the limiter without an AsyncLocalStorage', () => {
  it('runs a session through the direct client and the limiter without tagging new promises (no promise hooks)', async () => {
    const ownSymbols = (): number => Object.getOwnPropertySymbols(Promise.resolve()).length;
    const before = ownSymbols();
    server = await startMockOpenAIServer({ script: () => ({ content: 'Done.', usage: { completion_tokens: 5 } }), rateLimits: createMockRateLimiter({ requestsPerMinute: 1_000 }) });
    const { store, observed } = observingStore();
    const keel = createKeel({ database: ':memory:', model: createOpenAIModel({ modelId: 'gpt-4o', apiKey: 'k', baseURL: server.baseURL }), modelLimits: { store } });
    const result = await keel.run(defineAgent({ name: 'answerer', instructions: 'Answer.', tools: [] }), 'hello').result;
    await keel.close();
    expect(result.status).toBe('completed');
    // The limiter still learned the account's limits from the response's headers.
    expect(observed.some((observation) => Object.keys(observation.readings).length > 0)).toBe(true);
    // An AsyncLocalStorage entered once would tag every later promise with the async hooks' ids.
    expect(ownSymbols()).toBe(before);
  });

  for (const client of ['direct', 'sdk'] as const) {
    it(`reports the headers of an OpenAI call through the ${client} client to the limiter`, async () => {
      server = await startMockOpenAIServer({ script: () => ({ content: 'Done.', usage: { completion_tokens: 5 } }), rateLimits: createMockRateLimiter({ requestsPerMinute: 1_000 }) });
      const { store, observed } = observingStore();
      const model = createOpenAIModel({ modelId: 'gpt-4o', apiKey: 'k', baseURL: server.baseURL, client });
      const gateway = createGateway(model, { limiter: createModelLimiter({ store, accounts: { openai: { requestsPerMinute: 1_000 }, anthropic: { requestsPerMinute: 1_000 } } }), maxRetries: 0 });
      await gateway.call(request, { signal: new AbortController().signal, streaming: false });
      await gateway.call(request, { signal: new AbortController().signal, streaming: true });
      expect(observed.filter((observation) => Object.keys(observation.readings).length > 0)).toHaveLength(2);
    });

    it(`reports the headers of an Anthropic call through the ${client} client to the limiter`, async () => {
      server = await startMockAnthropicServer({ script: () => ({ content: [{ type: 'text', text: 'Done.' }], usage: { output_tokens: 8 } }), rateLimits: createMockRateLimiter({ requestsPerMinute: 1_000 }) });
      const { store, observed } = observingStore();
      const model = createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'k', baseURL: server.baseURL, client });
      const gateway = createGateway(model, { limiter: createModelLimiter({ store, accounts: { openai: { requestsPerMinute: 1_000 }, anthropic: { requestsPerMinute: 1_000 } } }), maxRetries: 0 });
      await gateway.call(request, { signal: new AbortController().signal, streaming: false });
      await gateway.call(request, { signal: new AbortController().signal, streaming: true });
      expect(observed.filter((observation) => Object.keys(observation.readings).length > 0)).toHaveLength(2);
    });
  }

  it('reports the headers of a model of your own that sends with a signal of its own, through the public API', async () => {
    server = await startMockOpenAIServer({ script: () => ({ content: 'Done.', usage: { completion_tokens: 5 } }), rateLimits: createMockRateLimiter({ requestsPerMinute: 1_000 }) });
    const baseURL = server.baseURL;
    const { store, observed } = observingStore();
    const send = reportingFetch(globalThis.fetch);
    const answer: ModelResponse = { id: 'own_1', model: 'gpt-4o', content: [{ type: 'text', text: 'Done.' }], stopReason: 'end_turn', providerStopReason: 'stop', usage: { inputTokens: 5, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 } };
    const ownModel: Model = {
      provider: 'openai',
      modelId: 'gpt-4o',
      // Like an SDK: the request goes out with a signal the client made, not the gateway's.
      generate: (_request, signal) =>
        observingResponseHeaders(signal, async () => {
          const response = await send(`${baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer k' }, body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hello' }] }), signal: new AbortController().signal });
          await response.text();
          return answer;
        }),
      stream: () => {
        throw new Error('not used');
      },
    };
    const gateway = createGateway(ownModel, { limiter: createModelLimiter({ store, accounts: { openai: { requestsPerMinute: 1_000 } } }), maxRetries: 0 });
    await gateway.call(request, { signal: new AbortController().signal, streaming: false });
    expect(observed.filter((observation) => Object.keys(observation.readings).length > 0)).toHaveLength(1);
  });

  it('hands each call only the headers of responses sent with its own signal, and nothing once it stopped watching', () => {
    const first = new AbortController().signal;
    const second = new AbortController().signal;
    const seen: string[] = [];
    const stopFirst = watchResponseHeaders(first, (headers) => seen.push(`first ${String(headers.get('x-call'))}`));
    watchResponseHeaders(second, (headers) => seen.push(`second ${String(headers.get('x-call'))}`));
    reportResponseHeaders(second, new Headers({ 'x-call': 'b' }), 200);
    reportResponseHeaders(first, new Headers({ 'x-call': 'a' }), 200);
    reportResponseHeaders(new AbortController().signal, new Headers({ 'x-call': 'c' }), 200);
    stopFirst();
    reportResponseHeaders(first, new Headers({ 'x-call': 'd' }), 200);
    expect(seen).toEqual(['second b', 'first a']);
  });
});
