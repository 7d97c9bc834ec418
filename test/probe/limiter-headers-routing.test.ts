import { afterEach, describe, expect, it } from 'vitest';
import { createAnthropicModel, createGateway, createOpenAIModel } from '../../src/model/index.ts';
import { createMemoryLimitStore, createModelLimiter } from '../../src/model/limits/index.ts';
import type { ModelRequest } from '../../src/spec/model.ts';
import type { ObserveLimitRequest, ProviderLimitStore } from '../../src/spec/provider-limits.ts';
import { createMockRateLimiter, startMockAnthropicServer, startMockOpenAIServer } from '../../src/testing/index.ts';
import type { MockServer } from '../../src/testing/index.ts';

const servers: MockServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

const request: ModelRequest = { messages: [{ role: 'user', content: [{ type: 'text', text: 'hello' }] }], tools: [], maxOutputTokens: 64 };

describe('rate-limit headers of concurrent calls of two accounts on one limiter (probe H5)', () => {
  for (const client of ['direct', 'sdk'] as const) {
    it(`reach the limiter under the account of the call that got them (${client} clients, plain and streamed)`, async () => {
      // Each server announces its own request limit, so a reading shows whose response it came from.
      const openai = await startMockOpenAIServer({ script: () => ({ content: 'Done.', usage: { completion_tokens: 5 } }), rateLimits: createMockRateLimiter({ requestsPerMinute: 1_111 }) });
      const anthropic = await startMockAnthropicServer({ script: () => ({ content: [{ type: 'text', text: 'Done.' }], usage: { output_tokens: 8 } }), rateLimits: createMockRateLimiter({ requestsPerMinute: 2_222 }) });
      servers.push(openai, anthropic);
      const inner = createMemoryLimitStore();
      const observed: ObserveLimitRequest[] = [];
      const store: ProviderLimitStore = { ...inner, observe: (observation) => (observed.push(observation), inner.observe(observation)) };
      const limiter = createModelLimiter({ store, accounts: { openai: { requestsPerMinute: 100_000 }, anthropic: { requestsPerMinute: 100_000 } } });
      const gateways = {
        openai: createGateway(createOpenAIModel({ modelId: 'gpt-4o', apiKey: 'k', baseURL: openai.baseURL, client }), { limiter, maxRetries: 0 }),
        anthropic: createGateway(createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'k', baseURL: anthropic.baseURL, client }), { limiter, maxRetries: 0 }),
      };
      const calls = Array.from({ length: 40 }, (_, index) => {
        const gateway = index % 2 === 0 ? gateways.openai : gateways.anthropic;
        return gateway.call(request, { signal: new AbortController().signal, streaming: index % 4 < 2 });
      });
      await Promise.all(calls);
      await limiter.close();
      const withReadings = observed.filter((observation) => Object.keys(observation.readings).length > 0);
      expect(withReadings).toHaveLength(40);
      const limitOf = (observation: ObserveLimitRequest): number | undefined => observation.readings.requests?.limit;
      expect(withReadings.filter((observation) => observation.account === 'openai').map(limitOf)).toEqual(Array.from({ length: 20 }, () => 1_111));
      expect(withReadings.filter((observation) => observation.account === 'anthropic').map(limitOf)).toEqual(Array.from({ length: 20 }, () => 2_222));
    });
  }
});
