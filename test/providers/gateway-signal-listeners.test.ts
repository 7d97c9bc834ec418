import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createGateway } from '../../src/model/index.ts';
import type { Model, ModelRequest, ModelResponse, ModelStreamPart } from '../../src/spec/index.ts';

const request: ModelRequest = { messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], tools: [], maxOutputTokens: 10 };
const response: ModelResponse = { id: 'r', model: 'm', content: [{ type: 'text', text: 'ok' }], stopReason: 'end_turn', providerStopReason: 'end_turn', usage: { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 } };

/** Behaves like both provider SDKs: adds an abort listener to the signal it is given and never removes it. */
const careless: Model = {
  provider: 'fake',
  modelId: 'fake-1',
  generate(_request, signal) {
    signal.addEventListener('abort', () => undefined);
    return Promise.resolve(response);
  },
  async *stream(_request, signal): AsyncGenerator<ModelStreamPart> {
    signal.addEventListener('abort', () => undefined);
    yield { type: 'text-delta', text: 'ok' } as ModelStreamPart;
    yield { type: 'finish', response } as unknown as ModelStreamPart;
  },
};

describe('the gateway does not let a provider SDK pile listeners on the caller\u2019s signal', () => {
  it('leaves the session signal without listeners after many calls, streamed or not', async () => {
    const gateway = createGateway(careless, { maxRetries: 0 });
    const session = new AbortController();
    for (let call = 0; call < 25; call += 1) await gateway.generate(request, session.signal);
    for (let call = 0; call < 25; call += 1) for await (const _part of gateway.stream(request, session.signal)) void _part;
    expect(getEventListeners(session.signal, 'abort')).toHaveLength(0);
  });

  it('still cancels the provider call when the caller aborts', async () => {
    let seen: AbortSignal | undefined;
    const hanging: Model = { ...careless, generate: (_request, signal) => ((seen = signal), new Promise<ModelResponse>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)))) };
    const session = new AbortController();
    const call = createGateway(hanging, { maxRetries: 0 }).generate(request, session.signal);
    session.abort(new Error('stop'));
    await expect(call).rejects.toMatchObject({ code: 'cancelled' });
    expect(seen?.aborted).toBe(true);
  });
});
