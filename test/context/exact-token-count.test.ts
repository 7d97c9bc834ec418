import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ExactCountCache, countRequestInput, exactTokenCounterOf } from '../../src/context/exact-token-count.ts';
import type { CountedExplainPlan } from '../../src/context/exact-token-count.ts';
import { defineAgent, resumeSession, startSession } from '../../src/loop/index.ts';
import type { ModelCaller } from '../../src/loop/index.ts';
import { createAnthropicModel, createGateway } from '../../src/model/index.ts';
import type { Model, SessionEvent } from '../../src/spec/index.ts';
import { createMemoryJournal, validateJournal } from '../../src/store/index.ts';
import { startMockAnthropicServer } from '../../src/testing/index.ts';
import type { MockServer } from '../../src/testing/index.ts';
import type { AnthropicMockCountReply } from '../../src/testing/mock-anthropic-server.ts';
import { mockInputTokens } from '../../src/testing/mock-anthropic-count-tokens.ts';
import type { MockScript } from '../../src/testing/mock-http-server.ts';
import { defineTool } from '../../src/tools/index.ts';
import { dependenciesFor, readAll } from '../helpers/loop-harness.ts';

let server: MockServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const countPath = '/v1/messages/count_tokens';

async function startServer(countTokens?: MockScript<AnthropicMockCountReply>): Promise<MockServer> {
  server = await startMockAnthropicServer({ script: () => ({ content: [{ type: 'text', text: 'Done.' }] }), ...(countTokens === undefined ? {} : { countTokens }) });
  return server;
}

function anthropic(options: { key: boolean }): Model {
  // Without a key the SDK still needs a credential for /v1/messages: a plain header, which does not configure a key.
  return createAnthropicModel({ modelId: 'claude-sonnet-4-6', baseURL: server!.baseURL, ...(options.key ? { apiKey: 'sk-ant-test' } : { headers: { 'x-api-key': 'sk-ant-test' } }) });
}

/** The loop's model caller for a model: the gateway, carrying the model's exact counter as the runtime wires it. */
function callerFor(model: Model): ModelCaller {
  const gateway = createGateway(model, { maxRetries: 0 });
  return model.countTokens === undefined ? gateway : Object.assign(gateway, { countTokens: model.countTokens });
}

const lookup = defineTool({ name: 'lookup', description: 'Look an order up.', input: z.object({ id: z.string() }), risk: 'read', execute: ({ id }) => `order ${id}` });
const agent = defineAgent({ name: 'counter', instructions: 'Answer about orders.', tools: [lookup], context: true, streaming: false });

async function planOf(dependencies: ReturnType<typeof dependenciesFor>, events: readonly SessionEvent[], turn = 1): Promise<{ assemble: Extract<SessionEvent, { type: 'context-assemble' }>; plan: CountedExplainPlan }> {
  const assemble = events.find((event): event is Extract<SessionEvent, { type: 'context-assemble' }> => event.type === 'context-assemble' && event.turn === turn);
  if (assemble?.planHash === undefined) throw new Error('no journaled plan');
  return { assemble, plan: JSON.parse((await dependencies.blobs.get(assemble.planHash)) ?? 'null') as CountedExplainPlan };
}

function withoutAnthropicKeys<T>(body: () => Promise<T>): Promise<T> {
  const saved = { key: process.env.ANTHROPIC_API_KEY, token: process.env.ANTHROPIC_AUTH_TOKEN };
  delete process.env.ANTHROPIC_API_KEY;
  delete process.env.ANTHROPIC_AUTH_TOKEN;
  return body().finally(() => {
    if (saved.key !== undefined) process.env.ANTHROPIC_API_KEY = saved.key;
    if (saved.token !== undefined) process.env.ANTHROPIC_AUTH_TOKEN = saved.token;
  });
}

describe('the fit check on the provider\u2019s exact count', () => {
  it('asks the count-tokens endpoint when a key is set, and journals the exact count beside the estimate', async () => {
    await startServer();
    const dependencies = dependenciesFor(callerFor(anthropic({ key: true })));
    const result = await startSession(agent, dependencies, { input: 'Where is order 42?', sessionId: 'ses_exact' }).result;
    expect(result.status, JSON.stringify(result.error)).toBe('completed');
    expect(server!.requests.map((request) => request.path)).toEqual([countPath, '/v1/messages']);
    const countBody = server!.requests[0]!.body as Record<string, unknown>;
    expect(countBody).toMatchObject({ model: 'claude-sonnet-4-6', tools: expect.arrayContaining([expect.objectContaining({ name: 'lookup' })]) });
    expect(countBody).not.toHaveProperty('max_tokens');
    // What was counted is what was sent: the same system, tools and messages.
    const messagesBody = server!.requests[1]!.body as Record<string, unknown>;
    expect({ system: countBody.system, tools: countBody.tools, messages: countBody.messages }).toEqual({ system: messagesBody.system, tools: messagesBody.tools, messages: messagesBody.messages });

    const events = await readAll(dependencies, 'ses_exact');
    expect(validateJournal(events).problems).toEqual([]);
    const { assemble, plan } = await planOf(dependencies, events);
    const exact = mockInputTokens(countBody);
    expect(plan.inputCount).toMatchObject({ method: 'exact', tokens: exact, estimateTokens: plan.total, source: 'count-tokens-endpoint' });
    expect(exact).not.toBe(plan.total);
    expect(assemble.tokens.total).toBe(exact);
    expect(assemble.tokenCounting).toBe('tokenizer');
    expect(assemble.utilization).toBeCloseTo(exact / 200_000, 9);
  });

  it('uses the estimate, marked as one, when no key is configured', async () => {
    await startServer();
    await withoutAnthropicKeys(async () => {
      const model = anthropic({ key: false });
      expect(exactTokenCounterOf(callerFor(model))).toBeNull();
      const dependencies = dependenciesFor(callerFor(model));
      const result = await startSession(agent, dependencies, { input: 'Where is order 42?', sessionId: 'ses_estimate' }).result;
      expect(result.status, JSON.stringify(result.error)).toBe('completed');
      expect(server!.requests.map((request) => request.path)).toEqual(['/v1/messages']);
      const { assemble, plan } = await planOf(dependencies, await readAll(dependencies, 'ses_estimate'));
      expect(plan.inputCount).toEqual({ method: 'estimate', tokens: plan.total, estimateTokens: plan.total, source: 'local-estimate' });
      expect(assemble.tokenCounting).toBe('estimate');
      expect(assemble.tokens.total).toBe(plan.total);
    });
  });

  it('falls back to the estimate when the endpoint fails, with the reason in the journaled plan, and the turn goes on', async () => {
    await startServer([{ fault: 'overloaded' }]);
    const dependencies = dependenciesFor(callerFor(anthropic({ key: true })));
    const result = await startSession(agent, dependencies, { input: 'Where is order 42?', sessionId: 'ses_fallback' }).result;
    expect(result.status, JSON.stringify(result.error)).toBe('completed');
    expect(server!.requests.map((request) => request.path)).toEqual([countPath, '/v1/messages']);
    const { assemble, plan } = await planOf(dependencies, await readAll(dependencies, 'ses_fallback'));
    expect(plan.inputCount).toMatchObject({ method: 'estimate', tokens: plan.total, source: 'local-estimate' });
    expect(plan.inputCount.fallbackReason).toMatch(/^the count-tokens endpoint failed \(model-overloaded: .*\); the estimate was used$/);
    expect(assemble.tokenCounting).toBe('estimate');
  });

  it('a request that cannot fit is model-context-window, raised before any Messages call', async () => {
    // The planner's estimate fits; the provider's count (forced by the script) does not: 199,000 + 4,096 > 200,000.
    await startServer(() => ({ inputTokens: 199_000 }));
    const dependencies = dependenciesFor(callerFor(anthropic({ key: true })));
    const result = await startSession(agent, dependencies, { input: 'Where is order 42?', sessionId: 'ses_too_long' }).result;
    // The session ends failed with the numbers, journaled; a resume would not make the request fit.
    expect(result.status).toBe('failed');
    expect(result.error?.code).toBe('model-context-window');
    expect(result.error?.message).toMatch(/199[,.]?000/);
    expect(result.error?.message).toMatch(/counted exactly by the provider; the planner estimated \d+/);
    const events = await readAll(dependencies, 'ses_too_long');
    expect(events.map((event) => event.type)).toEqual(['session-start', 'turn-start', 'model-error', 'session-end']);
    expect(validateJournal(events).problems).toEqual([]);
    expect(server!.requests.map((request) => request.path)).toEqual([countPath]);
  });

  it('counts the same content once: a resumed turn takes its count from the cache', async () => {
    await startServer();
    const caller = callerFor(anthropic({ key: true }));
    const first = dependenciesFor(caller);
    expect((await startSession(agent, first, { input: 'Where is order 7?', sessionId: 'ses_cached' }).result).status).toBe('completed');
    const full = await readAll(first, 'ses_cached');
    // A crash after the model request was journaled: the resumed process plans turn 1 again, with the same content.
    const cut = full.findIndex((event) => event.type === 'model-request') + 1;
    const journal = createMemoryJournal();
    await journal.append('ses_cached', full.slice(0, cut), 0);
    const resumed = dependenciesFor(caller, { journal, blobs: first.blobs });
    expect((await resumeSession(agent, resumed, 'ses_cached').result).status).toBe('completed');
    expect(server!.requests.map((request) => request.path)).toEqual([countPath, '/v1/messages', '/v1/messages']);
    const events = await readAll(resumed, 'ses_cached');
    const assembles = events.filter((event) => event.type === 'context-assemble');
    expect(assembles).toHaveLength(2);
    const replanned = JSON.parse((await resumed.blobs.get((assembles[1] as { planHash: string }).planHash)) ?? 'null') as CountedExplainPlan;
    expect(replanned.inputCount).toMatchObject({ method: 'exact', source: 'count-cache', tokens: mockInputTokens(server!.requests[0]!.body) });
  });
});

describe('countRequestInput', () => {
  const request = { system: 'Be brief.', messages: [{ role: 'user' as const, content: [{ type: 'text' as const, text: 'Hello' }] }], tools: [], maxOutputTokens: 256 };
  const modelRef = { provider: 'anthropic', modelId: 'claude-sonnet-4-6' };

  it('goes on with the estimate when the endpoint is slower than the timeout', async () => {
    await startServer([{ fault: 'slow-first-byte', delayMs: 5_000 }]);
    const counter = exactTokenCounterOf(anthropic({ key: true }));
    const count = await countRequestInput({ model: modelRef, request, estimateTokens: 30, counter, signal: new AbortController().signal, timeoutMs: 100, cache: new ExactCountCache() });
    expect(count).toMatchObject({ method: 'estimate', tokens: 30, source: 'local-estimate', fallbackReason: 'the count-tokens endpoint did not answer within 100 ms; the estimate was used' });
  });

  it.each([
    [{ fault: 'reset' as const }, /^the count-tokens endpoint failed \(model-connection: /],
    [{ fault: 'cut' as const }, /^the count-tokens endpoint failed \(model-malformed-response: /],
    [{ fault: 'auth' as const }, /^the count-tokens endpoint failed \(model-authentication: /],
  ])('goes on with the estimate when the endpoint answers %o', async (fault, reason) => {
    await startServer([fault]);
    const counter = exactTokenCounterOf(anthropic({ key: true }));
    const count = await countRequestInput({ model: modelRef, request, estimateTokens: 30, counter, signal: new AbortController().signal, cache: new ExactCountCache() });
    expect(count).toMatchObject({ method: 'estimate', tokens: 30, source: 'local-estimate' });
    expect(count.fallbackReason).toMatch(reason);
  });

  it('keys the cache on what is counted, not on the output settings', async () => {
    await startServer();
    const counter = exactTokenCounterOf(anthropic({ key: true }));
    const cache = new ExactCountCache();
    const signal = new AbortController().signal;
    const first = await countRequestInput({ model: modelRef, request, estimateTokens: 30, counter, signal, cache });
    const again = await countRequestInput({ model: modelRef, request: { ...request, maxOutputTokens: 1024, stopSequences: ['END'] }, estimateTokens: 30, counter, signal, cache });
    expect(first.source).toBe('count-tokens-endpoint');
    expect(again).toMatchObject({ method: 'exact', source: 'count-cache', tokens: first.tokens, countKey: first.countKey });
    await countRequestInput({ model: modelRef, request: { ...request, system: 'Be very brief.' }, estimateTokens: 30, counter, signal, cache });
    expect(server!.requests.filter((recorded) => recorded.path === countPath)).toHaveLength(2);
  });

  it('a cancelled turn is a cancellation, not a fallback', async () => {
    await startServer([{ fault: 'slow-first-byte', delayMs: 5_000 }]);
    const counter = exactTokenCounterOf(anthropic({ key: true }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    const outcome = countRequestInput({ model: modelRef, request, estimateTokens: 30, counter, signal: controller.signal, cache: new ExactCountCache() });
    await expect(outcome).rejects.toMatchObject({ code: 'cancelled' });
  });
});
