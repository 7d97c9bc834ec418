import { afterEach, describe, expect, it } from 'vitest';
import type { KeelError } from '../../src/errors/index.ts';
import { createAnthropicModel, createGateway, createOpenAIModel } from '../../src/model/index.ts';
import { createMemoryLimitStore, createModelLimiter, queueLane } from '../../src/model/limits/index.ts';
import type { ModelRequest } from '../../src/spec/model.ts';
import { createMockRateLimiter, startMockAnthropicServer, startMockOpenAIServer } from '../../src/testing/index.ts';
import type { MockServer } from '../../src/testing/index.ts';
import { recordingClock, rejectionOf } from '../providers/helpers.ts';

let server: MockServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const request = (text: string, maxOutputTokens = 64): ModelRequest => ({ messages: [{ role: 'user', content: [{ type: 'text', text }] }], tools: [], maxOutputTokens });
const answer = { content: [{ type: 'text' as const, text: 'Done.' }], usage: { output_tokens: 8 } };
const never = (): AbortSignal => new AbortController().signal;

describe('the gateway with a limiter, against a mock that enforces its limits', () => {
  it('paces a burst over the output-token limit: no 429, every call answered, the waits reported', async () => {
    // 2,000 output tokens per minute and 500 reserved per call: four calls fit at once, the rest wait for refunds.
    const limits = createMockRateLimiter({ requestsPerMinute: 1_000, outputTokensPerMinute: 2_000 });
    server = await startMockAnthropicServer({ script: () => ({ fault: 'slow-first-byte', delayMs: 20, response: answer }), rateLimits: limits });
    const model = createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'k', baseURL: server.baseURL });
    const limiter = createModelLimiter({ accounts: { anthropic: { requestsPerMinute: 1_000, outputTokensPerMinute: 2_000 } } });
    const results = await Promise.all(Array.from({ length: 12 }, (_, index) => createGateway(model, { limiter }).call(request(`call ${index}`, 500), { signal: never(), streaming: false })));
    expect(limits.counts).toMatchObject({ served: 12, rejected: 0 });
    expect(limits.counts.lowestShare).toBeGreaterThanOrEqual(0);
    expect(results.filter((result) => (result.queueWaitMs ?? 0) > 0).length).toBeGreaterThanOrEqual(8);
    expect(results.every((result) => result.retries === 0)).toBe(true);
  });

  it('sends one call alone to an account with no known limits, learns them from its headers, then paces the burst under them', async () => {
    const limits = createMockRateLimiter({ outputTokensPerMinute: 1_500 });
    server = await startMockOpenAIServer({ script: () => ({ fault: 'slow-first-byte', delayMs: 20, response: { content: 'Done.', usage: { completion_tokens: 5 } } }), rateLimits: limits });
    const model = createOpenAIModel({ modelId: 'gpt-4o', apiKey: 'k', baseURL: server.baseURL });
    const limiter = createModelLimiter({ random: () => 0.5 });
    // Nothing configured: the first call goes alone, its headers teach the limiter the account's token limit, and
    // the rest of the burst is paced under it.
    const results = await Promise.all(Array.from({ length: 8 }, (_, index) => createGateway(model, { limiter, maxRetries: 0 }).call(request(`call ${index}`, 500), { signal: never(), streaming: true })));
    expect(results).toHaveLength(8);
    expect(limits.counts.rejected).toBe(0);
    expect(limits.counts.served).toBe(8);
    expect(results.filter((result) => (result.queueWaitMs ?? 0) > 0).length).toBeGreaterThanOrEqual(5);
  });

  it('re-queues a call the provider refused, after the retry-after it sent, without spending a gateway retry', async () => {
    server = await startMockAnthropicServer({ script: [{ fault: 'rate-limit', retryAfterMs: 40 }, answer] });
    const model = createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'k', baseURL: server.baseURL });
    const waits: number[] = [];
    const limiter = createModelLimiter({ onWait: (wait) => waits.push(wait.rateLimited) });
    const result = await createGateway(model, { limiter, maxRetries: 0 }).call(request('hello'), { signal: never(), streaming: false });
    // Not a gateway retry (maxRetries is 0 and the call still succeeds), but a failed attempt the journal counts.
    expect(result.retries).toBe(1);
    expect(result.queueWaitMs).toBeGreaterThanOrEqual(40);
    expect(waits).toContain(1);
    expect(server.requests).toHaveLength(2);
  });

  it('fails at once, saying how long, when the provider asks for a wait past the deadline', async () => {
    server = await startMockAnthropicServer({ script: [{ fault: 'rate-limit', retryAfterSeconds: 150 }, answer] });
    const model = createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'k', baseURL: server.baseURL });
    const limiter = createModelLimiter();
    const error = (await rejectionOf(createGateway(model, { limiter }).call(request('hello'), { signal: never(), streaming: false, deadlineAt: Date.now() + 30_000 }))) as KeelError;
    expect(error.code).toBe('model-rate-limited');
    expect(error.message).toContain('2 min 30 s');
    expect(error.message).toContain("session's deadline");
    expect(error.retryAfterMs).toBe(150_000);
    expect(server.requests).toHaveLength(1);
  });

  it('ends a wait in the queue past its maximum with a typed error naming the place in the queue', async () => {
    server = await startMockAnthropicServer({ script: () => answer });
    const model = createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'k', baseURL: server.baseURL });
    const limiter = createModelLimiter({ accounts: { anthropic: { requestsPerMinute: 1 } }, maxQueueWaitMs: 60 });
    await createGateway(model, { limiter }).call(request('first'), { signal: never(), streaming: false });
    const error = (await rejectionOf(createGateway(model, { limiter, maxRetries: 0 }).call(request('second'), { signal: never(), streaming: false }))) as KeelError;
    expect(error.code).toBe('model-rate-limited');
    expect(error.details).toMatchObject({ reason: 'queue-wait', account: 'anthropic', position: 0 });
    expect(await limiter.store.queueLength('anthropic', Date.now())).toBe(0);
    expect(server.requests).toHaveLength(1);
  });

  it('leaves the queue when the caller cancels', async () => {
    server = await startMockAnthropicServer({ script: () => answer });
    const model = createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'k', baseURL: server.baseURL });
    const limiter = createModelLimiter({ accounts: { anthropic: { requestsPerMinute: 1 } } });
    await createGateway(model, { limiter }).call(request('first'), { signal: never(), streaming: false });
    const controller = new AbortController();
    const pending = createGateway(model, { limiter }).call(request('second'), { signal: controller.signal, streaming: false });
    setTimeout(() => controller.abort(), 30);
    expect(((await rejectionOf(pending)) as KeelError).code).toBe('cancelled');
    expect(await limiter.store.queueLength('anthropic', Date.now())).toBe(0);
  });
});

describe('queue lanes', () => {
  it('puts running sessions before new ones, and interactive before batch', () => {
    expect(queueLane({ priority: 'interactive' }, true)).toBe(0);
    expect(queueLane({ priority: 'batch' }, true)).toBe(1);
    expect(queueLane({ priority: 'interactive' }, false)).toBe(2);
    expect(queueLane({ priority: 'batch' }, false)).toBe(3);
    expect(queueLane({ priority: 'batch', resumed: true }, false)).toBe(1);
    expect(queueLane(undefined, false)).toBe(2);
  });
});

describe('admission control', () => {
  it('refuses a new session while the global budget of the window is spent, with the time until it renews', async () => {
    const limiter = createModelLimiter({ admission: { globalBudget: { tokens: 100, windowMs: 60_000 } } });
    await limiter.admit({ account: 'anthropic' });
    await limiter.store.spend('global', { tokens: 100, windowMs: 60_000 }, 100, Date.now());
    const error = (await rejectionOf(limiter.admit({ account: 'anthropic' }))) as KeelError;
    expect(error.code).toBe('admission-refused');
    expect(error.retryable).toBe(true);
    expect(error.retryAfterMs).toBeGreaterThan(0);
    expect(error.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect(error.message).toMatch(/token budget of 100 per 60 s is spent .* Try again in \d+ s\./);
  });

  it('charges the tokens a call used to its tenant, and refuses that tenant only', async () => {
    server = await startMockAnthropicServer({ script: () => ({ content: [{ type: 'text', text: 'ok' }], usage: { input_tokens: 40, output_tokens: 20 } }) });
    const model = createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'k', baseURL: server.baseURL });
    const limiter = createModelLimiter({ admission: { tenantBudget: { tokens: 50, windowMs: 3_600_000 } } });
    await limiter.admit({ account: 'anthropic', tenant: 'acme' });
    await createGateway(model, { limiter, lane: { tenant: 'acme' } }).call(request('hello'), { signal: never(), streaming: false });
    const error = (await rejectionOf(limiter.admit({ account: 'anthropic', tenant: 'acme' }))) as KeelError;
    expect(error.code).toBe('admission-refused');
    expect(error.details).toMatchObject({ reason: 'tenant-budget', tenant: 'acme', spent: 60, budget: 50 });
    await limiter.admit({ account: 'anthropic', tenant: 'globex' });
  });

  it('refuses a new session while the queue is longer than its bound', async () => {
    const store = createMemoryLimitStore();
    const limiter = createModelLimiter({ store, admission: { maxQueueLength: 1 }, accounts: { anthropic: { requestsPerMinute: 60 } } });
    const cost = { requests: 1, inputTokens: 0, outputTokens: 0, tokens: 0 };
    for (let index = 0; index < 63; index += 1) await store.acquire({ account: 'anthropic', ticket: `t${index}`, lane: 2, cost, limits: { requestsPerMinute: 60 }, now: Date.now() });
    const error = (await rejectionOf(limiter.admit({ account: 'anthropic' }))) as KeelError;
    expect(error.details).toMatchObject({ reason: 'queue-length', queueLength: 3, maxQueueLength: 1 });
    expect(error.retryAfterMs).toBe(2_000);
  });
});

describe('retries without a limiter', () => {
  it('spreads retries of callers refused together, never sooner than the provider asked', async () => {
    const delays: number[] = [];
    for (const random of [0, 0.5, 0.99]) {
      server = await startMockAnthropicServer({ script: [{ fault: 'rate-limit', retryAfterSeconds: 2 }, answer] });
      const model = createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'k', baseURL: server.baseURL });
      const { clock, sleeps } = recordingClock();
      await createGateway(model, { clock, random: () => random }).call(request('hello'), { signal: never(), streaming: false });
      delays.push(...sleeps);
      await server.close();
      server = undefined;
    }
    expect(delays).toEqual([2_000, 2_200, 2_396]);
  });

  it('waits out a retry-after over a minute that fits the deadline, and fails at once when it does not', async () => {
    server = await startMockAnthropicServer({ script: [{ fault: 'rate-limit', retryAfterSeconds: 90 }, answer, { fault: 'rate-limit', retryAfterSeconds: 90 }, answer] });
    const model = createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'k', baseURL: server.baseURL });
    const { clock, sleeps } = recordingClock();
    await createGateway(model, { clock, random: () => 0 }).call(request('hello'), { signal: never(), streaming: false, deadlineAt: clock.now() + 600_000 });
    expect(sleeps).toEqual([90_000]);
    const error = (await rejectionOf(createGateway(model, { clock }).call(request('hello'), { signal: never(), streaming: false, deadlineAt: clock.now() + 60_000 }))) as KeelError;
    expect(error.code).toBe('model-rate-limited');
    expect(error.message).toContain('90 s');
    expect(error.details).toMatchObject({ reason: 'long-wait', waitMs: 90_000, retries: 0 });
    expect(sleeps).toEqual([90_000]);
  });
});
