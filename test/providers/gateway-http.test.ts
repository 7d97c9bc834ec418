import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeelError } from '../../src/errors/index.ts';
import { createAnthropicModel, createGateway, createOpenAIModel } from '../../src/model/index.ts';
import type { GatewayRetry } from '../../src/model/index.ts';
import type { Model, ModelStreamPart } from '../../src/spec/model.ts';
import { startMockAnthropicServer, startMockOpenAIServer } from '../../src/testing/index.ts';
import type { AnthropicMockReply, MockFault, MockServer, OpenAIMockReply } from '../../src/testing/index.ts';
import { recordingClock, rejectionOf, simpleRequest } from './helpers.ts';

let server: MockServer | undefined;
/** The client the tests of the current `describe.each` run use. */
let client: 'direct' | 'sdk' = 'direct';
afterEach(async () => {
  await server?.close();
  server = undefined;
});

type Provider = 'anthropic' | 'openai';
type Fault = MockFault<never>;

const answers = {
  anthropic: { content: [{ type: 'text', text: 'Recovered answer.' }] } satisfies AnthropicMockReply,
  openai: { content: 'Recovered answer.' } satisfies OpenAIMockReply,
};

async function modelFor(provider: Provider, script: readonly (Fault | 'answer')[], timeoutMs?: number): Promise<Model> {
  const replies = script.map((entry) => (entry === 'answer' ? answers[provider] : entry));
  if (provider === 'anthropic') {
    server = await startMockAnthropicServer({ script: replies as AnthropicMockReply[] });
    return createAnthropicModel({ client, modelId: 'claude-haiku-4-5', apiKey: 'k', baseURL: server.baseURL, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  }
  server = await startMockOpenAIServer({ script: replies as OpenAIMockReply[] });
  return createOpenAIModel({ client, modelId: 'gpt-4o', apiKey: 'k', baseURL: server.baseURL, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
}

const text = (parts: readonly ModelStreamPart[]): string => parts.flatMap((part) => (part.type === 'text-delta' ? [part.text] : [])).join('');

// Both clients (Keel's direct one, the default, and the official SDK's) over both providers.
describe.each([
  ['anthropic', 'direct'],
  ['anthropic', 'sdk'],
  ['openai', 'direct'],
  ['openai', 'sdk'],
] as const)('gateway over %s, %s client', (provider, kind) => {
  beforeEach(() => {
    client = kind;
  });

  const retryable: Fault[] = [
    { fault: 'rate-limit' },
    { fault: 'overloaded' },
    { fault: 'server-error' },
    { fault: 'reset' },
    { fault: 'cut' },
    { fault: 'stream-error' },
  ];

  it.each(retryable.map((fault) => [fault.fault, fault] as const))('retries %s (streaming and not) and then succeeds', async (_name, fault) => {
    const model = await modelFor(provider, [fault, 'answer', fault, 'answer']);
    const { clock, sleeps } = recordingClock();
    const retries: GatewayRetry[] = [];
    const gateway = createGateway(model, { clock, random: () => 0, onRetry: (retry) => retries.push(retry) });

    const plain = await gateway.call(simpleRequest, { signal: new AbortController().signal, streaming: false });
    expect(plain.retries).toBe(1);
    expect(plain.response.content).toEqual([{ type: 'text', text: 'Recovered answer.' }]);

    const seen: [ModelStreamPart, number][] = [];
    const streamed = await gateway.call(simpleRequest, { signal: new AbortController().signal, streaming: true, onPart: (part, attempt) => seen.push([part, attempt]) });
    expect(streamed.retries).toBe(1);
    expect(streamed.response.content).toEqual([{ type: 'text', text: 'Recovered answer.' }]);
    // The successful attempt is the second; its parts spell the whole answer on their own.
    expect(text(seen.filter(([, attempt]) => attempt === 1).map(([part]) => part))).toBe('Recovered answer.');
    expect(seen.at(-1)?.[0].type).toBe('finish');

    expect(server!.requests).toHaveLength(4);
    // No retry-after: exponential backoff from 500 ms (random() = 0 removes the jitter).
    expect(sleeps).toEqual([500, 500]);
    expect(retries.map((retry) => [retry.retry, retry.error.retryable])).toEqual([[1, true], [1, true]]);
  });

  it('retries a slow first byte that timed out', async () => {
    const model = await modelFor(provider, [{ fault: 'slow-first-byte', delayMs: 1_000 }, 'answer'], 100);
    const { clock } = recordingClock();
    const result = await createGateway(model, { clock }).call(simpleRequest, { signal: new AbortController().signal, streaming: true });
    expect(result.retries).toBe(1);
    expect(result.response.content).toEqual([{ type: 'text', text: 'Recovered answer.' }]);
  });

  it('waits as long as retry-after-ms asks, in real time', async () => {
    const model = await modelFor(provider, [{ fault: 'rate-limit', retryAfterMs: 60 }, 'answer']);
    const started = performance.now();
    const result = await createGateway(model).call(simpleRequest, { signal: new AbortController().signal, streaming: true });
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
    expect(result.retries).toBe(1);
    expect(result.latencyMs).toBeGreaterThanOrEqual(55);
  });

  it('uses retry-after seconds as the delay', async () => {
    const model = await modelFor(provider, [{ fault: 'rate-limit', retryAfterSeconds: 3 }, 'answer']);
    const { clock, sleeps } = recordingClock();
    await createGateway(model, { clock, random: () => 0 }).call(simpleRequest, { signal: new AbortController().signal, streaming: false });
    expect(sleeps).toEqual([3000]);
  });

  it('stops at x-should-retry: false', async () => {
    const model = await modelFor(provider, [{ fault: 'server-error', shouldRetry: false }, 'answer']);
    const { clock, sleeps } = recordingClock();
    const error = (await rejectionOf(createGateway(model, { clock }).call(simpleRequest, { signal: new AbortController().signal, streaming: true }))) as KeelError;
    expect(error.code).toBe('model-server-error');
    expect(error.retryable).toBe(false);
    expect(error.details.retries).toBe(0);
    expect(server!.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it.each(['auth', 'bad-request', 'quota', 'context-window'] as const)('does not retry %s', async (fault) => {
    const model = await modelFor(provider, [{ fault }, 'answer']);
    const error = (await rejectionOf(createGateway(model, { clock: recordingClock().clock }).call(simpleRequest, { signal: new AbortController().signal, streaming: false }))) as KeelError;
    expect(error).toBeInstanceOf(KeelError);
    expect(error.retryable).toBe(false);
    expect(server!.requests).toHaveLength(1);
  });

  it('gives up after maxRetries with the count in details', async () => {
    const model = await modelFor(provider, [{ fault: 'overloaded' }, { fault: 'overloaded' }, { fault: 'overloaded' }, 'answer']);
    const { clock, sleeps } = recordingClock();
    const error = (await rejectionOf(createGateway(model, { clock, maxRetries: 2, random: () => 0 }).call(simpleRequest, { signal: new AbortController().signal, streaming: true }))) as KeelError;
    expect(error.retryable).toBe(true);
    expect(error.details.retries).toBe(2);
    expect(typeof error.details.latencyMs).toBe('number');
    expect(server!.requests).toHaveLength(3);
    expect(sleeps).toEqual([500, 1000]);
  });

  it('stops waiting as soon as the signal aborts', async () => {
    const model = await modelFor(provider, [{ fault: 'rate-limit', retryAfterMs: 30_000 }, 'answer']);
    const controller = new AbortController();
    let waitStarted = 0;
    // Aborts 30 ms into the 30 s wait the provider asked for.
    const onRetry = (): void => {
      waitStarted = performance.now();
      setTimeout(() => controller.abort(), 30);
    };
    const error = (await rejectionOf(createGateway(model, { onRetry }).call(simpleRequest, { signal: controller.signal, streaming: true }))) as KeelError;
    // Had the 30 s wait run out, the retry would have reached the server and answered.
    expect(error.code).toBe('cancelled');
    expect(waitStarted).toBeGreaterThan(0);
    expect(server!.requests).toHaveLength(1);
  });
});
