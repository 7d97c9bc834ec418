import { afterEach, describe, expect, it } from 'vitest';
import { KeelError } from '../errors/index.ts';
import type { ModelRequest } from '../spec/model.ts';
import { FakeClock } from '../testing/fake-clock.ts';
import { startMockAnthropicServer } from '../testing/mock-anthropic-server.ts';
import type { AnthropicMockReply, AnthropicMockResponse } from '../testing/mock-anthropic-server.ts';
import type { MockServer } from '../testing/mock-http-server.ts';
import { createAnthropicModel } from './anthropic-model.ts';
import { createCircuitBreaker } from './circuit-breaker.ts';
import type { CircuitTransition } from './circuit-breaker.ts';
import { createModelRouter } from './model-router.ts';
import type { RouteEntry } from './route-types.ts';

const request: ModelRequest = { system: 'Be brief.', messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello?' }] }], tools: [], maxOutputTokens: 64 };
const noWait = { initialDelayMs: 0, maxDelayMs: 0, jitter: 0 };
const servers: MockServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function account(name: string, script: (index: number) => AnthropicMockReply): Promise<RouteEntry & { server: MockServer }> {
  const server = await startMockAnthropicServer({ script: (_body, index) => script(index) });
  servers.push(server);
  return { account: name, model: createAnthropicModel({ modelId: 'claude-haiku-4-5', baseURL: server.baseURL, apiKey: `key-${name}` }), server };
}

const answer = (text: string, inputTokens = 25): AnthropicMockResponse => ({ content: [{ type: 'text', text }], usage: { input_tokens: inputTokens, output_tokens: 5 } });

describe('createModelRouter: fallback', () => {
  it('moves past a failing account to the next, journaling why, and never calls the third', async () => {
    const first = await account('primary', () => ({ fault: 'overloaded' }));
    const second = await account('secondary', () => answer('From the secondary account.'));
    const third = await account('tertiary', () => answer('From the third account.'));
    const route = createModelRouter({ name: 'support', entries: [first, second, third], backoff: noWait });

    const result = await route.call(request, { signal: new AbortController().signal, streaming: true });

    expect(result.response.content).toEqual([{ type: 'text', text: 'From the secondary account.' }]);
    expect(result.account).toBe('secondary');
    expect(result.retries).toBe(1);
    expect(result.attempts?.map(({ account: name, outcome, reason, errorCode }) => ({ name, outcome, reason, errorCode }))).toEqual([
      { name: 'primary', outcome: 'failed', reason: 'overloaded', errorCode: 'model-overloaded' },
      { name: 'secondary', outcome: 'answered', reason: undefined, errorCode: undefined },
    ]);
    expect(result.firstTokenMs).toBeGreaterThanOrEqual(0);
    expect([first.server.requests.length, second.server.requests.length, third.server.requests.length]).toEqual([1, 1, 0]);
  });

  it('moves on after a 429 and a 500 in turn, and fails at once on a bad request without trying the others', async () => {
    const limited = await account('limited', () => ({ fault: 'rate-limit', retryAfterSeconds: 30 }));
    const broken = await account('broken', () => ({ fault: 'server-error' }));
    const healthy = await account('healthy', () => answer('Fine.'));
    const route = createModelRouter({ name: 'mixed', entries: [limited, broken, healthy], backoff: noWait });
    const result = await route.call(request, { signal: new AbortController().signal, streaming: false });
    expect(result.attempts?.map((attempt) => attempt.reason ?? attempt.outcome)).toEqual(['rate-limited', 'server-error', 'answered']);

    const rejecting = await account('rejecting', () => ({ fault: 'bad-request', message: 'messages: roles must alternate' }));
    const spare = await account('spare', () => answer('Never asked.'));
    const strict = createModelRouter({ name: 'strict', entries: [rejecting, spare], backoff: noWait });
    const error = await strict.call(request, { signal: new AbortController().signal, streaming: false }).catch((thrown: unknown) => thrown);
    expect(error).toMatchObject({ code: 'model-bad-request', details: { attempts: [{ account: 'rejecting', outcome: 'failed', reason: 'model-bad-request' }] } });
    expect(spare.server.requests).toHaveLength(0);
  });

  it('makes another pass when every entry failed, waiting the shortest retry-after, and gives up with every attempt', async () => {
    const clock = new FakeClock();
    const one = await account('one', (index) => (index === 0 ? { fault: 'rate-limit', retryAfterSeconds: 2 } : answer('Second pass.')));
    const two = await account('two', () => ({ fault: 'rate-limit', retryAfterSeconds: 5 }));
    const route = createModelRouter({ name: 'passes', entries: [one, two], rounds: 2, clock });
    const pending = route.call(request, { signal: new AbortController().signal, streaming: false });
    while (clock.sleeps.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(clock.sleeps).toEqual([2000]);
    clock.advance(2000);
    const result = await pending;
    expect(result.attempts?.map((attempt) => `${attempt.account}:${attempt.outcome}`)).toEqual(['one:failed', 'two:failed', 'one:answered']);

    const exhausted = createModelRouter({ name: 'exhausted', entries: [two], rounds: 1, clock });
    const error = await exhausted.call(request, { signal: new AbortController().signal, streaming: false }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(KeelError);
    expect(error).toMatchObject({ code: 'model-rate-limited', details: { attempts: [{ account: 'two', outcome: 'failed' }] } });
  });

  it('sends the first attempt of each call to an entry drawn by weight', async () => {
    const heavy = await account('heavy', () => answer('heavy'));
    const light = await account('light', () => answer('light'));
    const draws = [0.1, 0.5, 0.74, 0.76, 0.99];
    const route = createModelRouter({ name: 'weighted', entries: [{ ...light, weight: 1 }, { ...heavy, weight: 3 }].reverse(), random: () => draws.shift() ?? 0 });
    const accounts: (string | undefined)[] = [];
    for (let index = 0; index < 5; index += 1) accounts.push((await route.call(request, { signal: new AbortController().signal, streaming: false })).account);
    expect(accounts).toEqual(['heavy', 'heavy', 'heavy', 'light', 'light']);
  });
});

describe('circuit breaker', () => {
  it('opens after the threshold, refuses while open, lets one probe through half-open, and closes or reopens on its outcome', () => {
    const clock = new FakeClock();
    const transitions: string[] = [];
    const breaker = createCircuitBreaker({ failureThreshold: 2, openMs: 1000, clock, onTransition: ({ from, to }: CircuitTransition) => transitions.push(`${from}->${to}`) });
    const failure = new KeelError('model-overloaded', 'Overloaded.');
    breaker.acquire('account:a')?.failure(failure);
    expect(breaker.state('account:a')).toBe('closed');
    breaker.acquire('account:a')?.failure(failure);
    expect(breaker.state('account:a')).toBe('open');
    expect(breaker.acquire('account:a')).toBeNull();
    expect(breaker.retryInMs('account:a')).toBe(1000);
    expect(breaker.lastError('account:a')).toBe(failure);

    clock.advance(1000);
    const probe = breaker.acquire('account:a');
    expect(breaker.state('account:a')).toBe('half-open');
    expect(probe).not.toBeNull();
    expect(breaker.acquire('account:a')).toBeNull();
    probe?.failure(failure);
    expect(breaker.state('account:a')).toBe('open');

    clock.advance(1000);
    breaker.acquire('account:a')?.success();
    expect(breaker.state('account:a')).toBe('closed');
    expect(transitions).toEqual(['closed->open', 'open->half-open', 'half-open->open', 'open->half-open', 'half-open->closed']);
  });

  it('resets the failure count on a success, and a released permit frees the half-open probe without deciding', () => {
    const clock = new FakeClock();
    const breaker = createCircuitBreaker({ failureThreshold: 2, openMs: 10, clock });
    const failure = new KeelError('model-server-error', 'Boom.');
    breaker.acquire('k')?.failure(failure);
    breaker.acquire('k')?.success();
    breaker.acquire('k')?.failure(failure);
    expect(breaker.state('k')).toBe('closed');
    breaker.acquire('k')?.failure(failure);
    clock.advance(10);
    breaker.acquire('k')?.release();
    expect(breaker.state('k')).toBe('half-open');
    expect(breaker.acquire('k')).not.toBeNull();
  });

  it('skips an account whose circuit is open without sending it a request, then probes it once the circuit half-opens', async () => {
    const clock = new FakeClock();
    const flaky = await account('flaky', (index) => (index < 2 ? { fault: 'server-error' } : answer('Recovered.')));
    const steady = await account('steady', () => answer('Steady.'));
    const breaker = createCircuitBreaker({ failureThreshold: 2, openMs: 5_000, clock });
    const route = createModelRouter({ name: 'breaker', entries: [flaky, steady], circuitBreaker: breaker, clock });
    const signal = new AbortController().signal;

    await route.call(request, { signal, streaming: false });
    await route.call(request, { signal, streaming: false });
    expect(breaker.state('account:flaky')).toBe('open');
    const skipped = await route.call(request, { signal, streaming: false });
    expect(skipped.attempts?.[0]).toMatchObject({ account: 'flaky', outcome: 'skipped', reason: 'circuit-open:account', latencyMs: 0 });
    expect(flaky.server.requests).toHaveLength(2);

    clock.advance(5_000);
    const probed = await route.call(request, { signal, streaming: false });
    expect(probed.account).toBe('flaky');
    expect(breaker.state('account:flaky')).toBe('closed');
    expect(flaky.server.requests).toHaveLength(3);
  });
});

describe('createModelRouter: hedged requests', () => {
  it('starts a second attempt on another account past the p95 first-token latency, keeps the first to stream, cancels the other and counts one usage', async () => {
    const slowFrom = 20;
    const slow = await account('slow', (index) => (index < slowFrom ? answer('warm', 10) : { fault: 'slow-first-byte', delayMs: 5_000, response: answer('Too late.', 9_999) }));
    const fast = await account('fast', () => answer('From the hedge.', 42));
    const route = createModelRouter({ name: 'hedged', entries: [slow, fast], hedge: { percentile: 95, minSamples: slowFrom, minDelayMs: 150 } });
    const signal = new AbortController().signal;
    for (let index = 0; index < slowFrom; index += 1) await route.call(request, { signal, streaming: true });

    const parts: string[] = [];
    const result = await route.call(request, { signal, streaming: true, onPart: (part) => parts.push(part.type) });

    expect(result.response.content).toEqual([{ type: 'text', text: 'From the hedge.' }]);
    expect(result.response.usage.inputTokens).toBe(42);
    expect(result.account).toBe('fast');
    expect(result.attempts).toEqual([
      expect.objectContaining({ account: 'slow', outcome: 'cancelled', reason: 'hedge-lost' }),
      expect.objectContaining({ account: 'fast', outcome: 'answered', reason: 'hedge-won', hedge: true }),
    ]);
    expect(result.attempts?.[0]?.firstTokenMs).toBeUndefined();
    expect(parts.at(-1)).toBe('finish');
    // The slow attempt's connection was closed by the cancel, so its answer (and its usage) never arrived.
    expect(slow.server.requests).toHaveLength(slowFrom + 1);
    expect(fast.server.requests).toHaveLength(1);
  });
});
