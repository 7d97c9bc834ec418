import { describe, expect, it } from 'vitest';
import { KeelError } from '../errors/index.ts';
import type { Clock } from '../spec/clock.ts';
import type { Model, ModelRequest, ModelResponse, ModelStreamPart } from '../spec/model.ts';
import { createGateway } from './gateway.ts';

const request: ModelRequest = { messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], tools: [], maxOutputTokens: 10 };
const response: ModelResponse = {
  id: 'r1',
  model: 'fake',
  content: [{ type: 'text', text: 'hello' }],
  stopReason: 'end_turn',
  providerStopReason: 'end_turn',
  usage: { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 },
};

type Step = KeelError | Error | 'ok' | { partsThenFail: KeelError };

/** A model that plays one step per call: fail with the error, or answer. */
function fakeModel(steps: Step[]): Model & { calls: number } {
  const model = {
    provider: 'fake',
    modelId: 'fake-1',
    calls: 0,
    async generate(): Promise<ModelResponse> {
      const step = steps[model.calls++];
      if (step === 'ok') return response;
      if (step instanceof Error) throw step;
      throw new Error('unexpected step');
    },
    async *stream(): AsyncGenerator<ModelStreamPart> {
      const step = steps[model.calls++];
      if (step instanceof Error) throw step;
      yield { type: 'text-delta', text: 'hel' };
      if (step !== 'ok' && step !== undefined) throw step.partsThenFail;
      yield { type: 'text-delta', text: 'lo' };
      yield { type: 'finish', response };
    },
  };
  return model;
}

function fakeClock(): Clock & { sleeps: number[] } {
  let now = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    monotonic: () => now,
    sleep: async (milliseconds, signal) => {
      if (signal?.aborted) throw signal.reason;
      sleeps.push(milliseconds);
      now += milliseconds;
    },
  };
}

const overloaded = (): KeelError => new KeelError('model-overloaded', 'busy');
const signal = (): AbortSignal => new AbortController().signal;

describe('createGateway', () => {
  it('backs off exponentially, with jitter taken off, and gives up after maxRetries with statistics', async () => {
    const model = fakeModel([overloaded(), overloaded(), overloaded(), overloaded(), overloaded()]);
    const clock = fakeClock();
    const gateway = createGateway(model, { clock, random: () => 1, maxRetries: 4 });
    const error = (await gateway.call(request, { signal: signal(), streaming: false }).catch((thrown: unknown) => thrown)) as KeelError;
    // 500, 1000, 2000, 4000, each less the full 25 % jitter.
    expect(clock.sleeps).toEqual([375, 750, 1500, 3000]);
    expect(model.calls).toBe(5);
    expect(error.code).toBe('model-overloaded');
    expect(error.details).toMatchObject({ retries: 4, latencyMs: 5625 });
  });

  it('prefers the wait the provider asked for and reports retries and latency on success', async () => {
    const model = fakeModel([new KeelError('model-rate-limited', 'slow down', { retryAfterMs: 1234 }), 'ok']);
    const clock = fakeClock();
    const result = await createGateway(model, { clock, random: () => 0 }).call(request, { signal: signal(), streaming: false });
    expect(result).toEqual({ response, retries: 1, latencyMs: 1234 });
    expect(clock.sleeps).toEqual([1234]);
  });

  it('does not retry what is not retryable, nor errors that are not KeelErrors', async () => {
    for (const failure of [new KeelError('model-authentication', 'bad key'), new KeelError('model-server-error', 'no', { retryable: false }), new TypeError('bug')]) {
      const model = fakeModel([failure, 'ok']);
      const error = (await createGateway(model, { clock: fakeClock() }).call(request, { signal: signal(), streaming: false }).catch((thrown: unknown) => thrown)) as KeelError;
      expect(error).toBeInstanceOf(KeelError);
      expect(model.calls).toBe(1);
      expect(error.details.retries).toBe(0);
    }
  });

  it('re-issues a cut stream whole and tells onPart which attempt a part belongs to', async () => {
    const model = fakeModel([{ partsThenFail: new KeelError('model-stream-cut', 'cut') }, 'ok']);
    const seen: string[] = [];
    const result = await createGateway(model, { clock: fakeClock() }).call(request, {
      signal: signal(),
      streaming: true,
      onPart: (part, attempt) => seen.push(`${attempt}:${part.type === 'text-delta' ? part.text : part.type}`),
    });
    expect(result.retries).toBe(1);
    expect(result.response).toEqual(response);
    expect(seen).toEqual(['0:hel', '1:hel', '1:lo', '1:finish']);
  });

  it('stream() retries failures before the first part but never after one was handed out', async () => {
    const early = fakeModel([overloaded(), 'ok']);
    const parts: ModelStreamPart[] = [];
    for await (const part of createGateway(early, { clock: fakeClock() }).stream(request, signal())) parts.push(part);
    expect(early.calls).toBe(2);
    expect(parts.at(-1)).toEqual({ type: 'finish', response });

    const late = fakeModel([{ partsThenFail: new KeelError('model-stream-cut', 'cut') }, 'ok']);
    const error = await (async () => {
      for await (const _part of createGateway(late, { clock: fakeClock() }).stream(request, signal())) {
        // consume
      }
    })().catch((thrown: unknown) => thrown);
    expect((error as KeelError).code).toBe('model-stream-cut');
    expect(late.calls).toBe(1);
  });

  it('keeps the abort reason when it is a KeelError, such as a deadline, and does not call the model', async () => {
    const model = fakeModel(['ok']);
    const controller = new AbortController();
    controller.abort(new KeelError('deadline-exceeded', 'deadline passed'));
    const error = (await createGateway(model).call(request, { signal: controller.signal, streaming: true }).catch((thrown: unknown) => thrown)) as KeelError;
    expect(error.code).toBe('deadline-exceeded');
    expect(model.calls).toBe(0);
  });

  it('reports a stream that ends without a finish part as a retryable cut', async () => {
    const model: Model = {
      provider: 'fake',
      modelId: 'fake',
      generate: async () => response,
      async *stream() {
        yield { type: 'text-delta', text: 'no finish' };
      },
    };
    const clock = fakeClock();
    const error = (await createGateway(model, { clock, maxRetries: 1 }).call(request, { signal: signal(), streaming: true }).catch((thrown: unknown) => thrown)) as KeelError;
    expect(error.code).toBe('model-stream-cut');
    expect(clock.sleeps).toHaveLength(1);
  });

  it('exposes the wrapped model identity and generate()', async () => {
    const gateway = createGateway(fakeModel([overloaded(), 'ok']), { clock: fakeClock() });
    expect([gateway.provider, gateway.modelId]).toEqual(['fake', 'fake-1']);
    expect(await gateway.generate(request, signal())).toEqual(response);
  });
});
