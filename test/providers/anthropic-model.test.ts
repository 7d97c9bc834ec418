import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeelError } from '../../src/errors/index.ts';
import { createAnthropicModel } from '../../src/model/index.ts';
import { startMockAnthropicServer } from '../../src/testing/index.ts';
import type { AnthropicMockReply, MockServer } from '../../src/testing/index.ts';
import { collectParts, finishOf, rejectionOf, roundTripRequest, simpleRequest } from './helpers.ts';

let server: MockServer | undefined;
/** The client the tests of the current `describe.each` run use. */
let client: 'direct' | 'sdk' = 'direct';
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function modelFor(script: readonly AnthropicMockReply[] | ((body: unknown, index: number) => AnthropicMockReply), options: { timeoutMs?: number } = {}) {
  server = await startMockAnthropicServer({ script });
  return createAnthropicModel({ client, modelId: 'claude-haiku-4-5', apiKey: 'sk-ant-test', baseURL: server.baseURL, headers: { 'x-keel-test': 'yes' }, ...options });
}

const signal = (): AbortSignal => new AbortController().signal;

// Both clients (Keel's direct one, the default, and the official SDK's) must pass every test of this file.
describe.each(['direct', 'sdk'] as const)('%s client', (kind) => {
  beforeEach(() => {
    client = kind;
  });

  describe('Anthropic request wire shape', () => {
    it('sends system on top, tool results in the user turn with is_error, signed thinking only, and no temperature', async () => {
      const model = await modelFor([{ content: [{ type: 'text', text: 'ok' }] }]);
      await model.generate(roundTripRequest, signal());
      const recorded = server!.requests[0]!;
      expect(recorded.path).toBe('/v1/messages');
      expect(recorded.headers.authorization ?? recorded.headers['x-api-key']).toContain('sk-ant-test');
      expect(recorded.headers['anthropic-version']).toBeDefined();
      expect(recorded.headers['x-keel-test']).toBe('yes');
      // The gateway owns retries, so the SDK must not report any of its own; the direct client names itself.
      if (client === 'sdk') expect(recorded.headers['x-stainless-retry-count']).toBe('0');
      else expect([recorded.headers['x-stainless-retry-count'], recorded.headers['user-agent']]).toEqual([undefined, expect.stringMatching(/^keel /)]);
      expect(recorded.body).toEqual({
        model: 'claude-haiku-4-5',
        max_tokens: 512,
        system: 'You are a weather assistant.',
        messages: [
          { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Oslo?' }] },
          {
            role: 'assistant',
            content: [
              { type: 'thinking', thinking: 'Two cities, two calls.', signature: 'sig-abc' },
              { type: 'text', text: "I'll check both." },
              { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
              { type: 'tool_use', id: 'call_2', name: 'get_weather', input: {} },
            ],
          },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 'call_1', content: '15°C, light rain' },
              { type: 'tool_result', tool_use_id: 'call_2', content: 'invalid JSON arguments', is_error: true },
            ],
          },
        ],
        tools: [
          {
            name: 'get_weather',
            description: 'Get the current weather for a city',
            input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          },
        ],
        tool_choice: { type: 'any' },
        stop_sequences: ['END'],
        stream: false,
      });
    });

    it('asks for a stream when streaming and maps named tool choice', async () => {
      const model = await modelFor([{ content: [{ type: 'text', text: 'ok' }] }]);
      await collectParts(model, { ...simpleRequest, tools: roundTripRequest.tools, toolChoice: { name: 'get_weather' } });
      const body = server!.requests[0]!.body as Record<string, unknown>;
      expect(body.stream).toBe(true);
      expect(body.tool_choice).toEqual({ type: 'tool', name: 'get_weather' });
    });
  });

  describe('Anthropic responses', () => {
    const reply: AnthropicMockReply = {
      id: 'msg_reply',
      model: 'claude-haiku-4-5-20251001',
      content: [
        { type: 'thinking', thinking: 'The user wants weather.', signature: 'sig-xyz' },
        { type: 'text', text: "I'll check the weather in Paris." },
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris', units: ['c'] } },
      ],
      usage: { input_tokens: 412, output_tokens: 57, cache_read_input_tokens: 100, cache_creation_input_tokens: 30 },
    };
    const expected = {
      id: 'msg_reply',
      model: 'claude-haiku-4-5-20251001',
      content: [
        { type: 'thinking', thinking: 'The user wants weather.', signature: 'sig-xyz' },
        { type: 'text', text: "I'll check the weather in Paris." },
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris', units: ['c'] } },
      ],
      stopReason: 'tool_use',
      providerStopReason: 'tool_use',
      usage: { inputTokens: 412, outputTokens: 57, cacheReadTokens: 100, cacheWriteTokens: 30 },
    };

    it('maps a non-streaming message: blocks, stop reason and every usage field', async () => {
      const model = await modelFor([reply]);
      expect(await model.generate(simpleRequest, signal())).toEqual(expected);
    });

    it('rebuilds the same response from a stream and forwards live parts', async () => {
      const model = await modelFor([reply]);
      const parts = await collectParts(model, simpleRequest);
      expect(finishOf(parts).response).toEqual(expected);
      const text = parts.filter((part) => part.type === 'text-delta');
      expect(text.length).toBeGreaterThan(1);
      expect(text.map((part) => part.text).join('')).toBe("I'll check the weather in Paris.");
      expect(parts.filter((part) => part.type === 'thinking-delta').map((part) => part.text).join('')).toBe('The user wants weather.');
      expect(parts.find((part) => part.type === 'tool-call-start')).toEqual({ type: 'tool-call-start', index: 0, id: 'toolu_1', name: 'get_weather' });
      const argumentsText = parts.flatMap((part) => (part.type === 'tool-call-delta' ? [part.argumentsDelta] : [])).join('');
      expect(JSON.parse(argumentsText)).toEqual({ city: 'Paris', units: ['c'] });
    });

    it('turns null cache counts into zeros', async () => {
      const model = await modelFor([{ content: [{ type: 'text', text: 'hi' }], usage: { input_tokens: 5, output_tokens: 2, cache_read_input_tokens: null, cache_creation_input_tokens: null } }]);
      expect((await model.generate(simpleRequest, signal())).usage).toEqual({ inputTokens: 5, outputTokens: 2, cacheReadTokens: 0, cacheWriteTokens: 0 });
    });

    const stopReasons = [
      ['end_turn', 'end_turn'],
      ['tool_use', 'tool_use'],
      ['max_tokens', 'max_tokens'],
      ['stop_sequence', 'stop_sequence'],
      ['pause_turn', 'pause_turn'],
      ['refusal', 'refusal'],
      ['model_context_window_exceeded', 'context_window_exceeded'],
    ] as const;

    it.each(stopReasons)('maps stop reason %s to %s, streaming and not', async (provider, keel) => {
      const model = await modelFor(() => ({ content: [{ type: 'text', text: 'x' }], stopReason: provider }));
      const plain = await model.generate(simpleRequest, signal());
      const streamed = finishOf(await collectParts(model, simpleRequest)).response;
      for (const response of [plain, streamed]) {
        expect(response.stopReason).toBe(keel);
        expect(response.providerStopReason).toBe(provider);
      }
    });

    it('keeps malformed tool-argument JSON as malformedInput instead of throwing', async () => {
      const model = await modelFor([{ fault: 'malformed-tool-json', name: 'get_weather', arguments: '{"city": "Par', stopReason: 'max_tokens' }]);
      const response = finishOf(await collectParts(model, simpleRequest)).response;
      expect(response.content).toEqual([{ type: 'tool_use', id: 'toolu_mock_1_1', name: 'get_weather', input: {}, malformedInput: '{"city": "Par' }]);
      expect(response.stopReason).toBe('max_tokens');
    });
  });

  describe('Anthropic failures', () => {
    it.each([
      ['auth', 'model-authentication', 'user', 401, /ANTHROPIC_API_KEY/],
      ['bad-request', 'model-bad-request', 'system', 400, /rejected the request/],
      ['context-window', 'model-context-window', 'system', 400, /context window/],
      ['quota', 'model-quota-exhausted', 'model', 402, /credit/],
    ] as const)('%s surfaces as %s, not retryable', async (fault, code, blame, status, wording) => {
      const model = await modelFor([{ fault }, { fault }]);
      for (const attempt of [model.generate(simpleRequest, signal()), collectParts(model, simpleRequest)]) {
        const error = (await rejectionOf(attempt)) as KeelError;
        expect(error).toBeInstanceOf(KeelError);
        expect(error.code).toBe(code);
        expect(error.fault).toBe(blame);
        expect(error.retryable).toBe(false);
        expect(error.message).toMatch(wording);
        expect(error.details).toMatchObject({ provider: 'anthropic', model: 'claude-haiku-4-5', status });
        expect(error.details.requestId).toMatch(/^req_mock_/);
      }
    });

    it('reads retry-after and rate-limit status', async () => {
      const model = await modelFor([{ fault: 'rate-limit', retryAfterSeconds: 2 }]);
      const error = (await rejectionOf(model.generate(simpleRequest, signal()))) as KeelError;
      expect(error.code).toBe('model-rate-limited');
      expect(error.retryable).toBe(true);
      expect(error.retryAfterMs).toBe(2000);
    });

    it('maps 529 to model-overloaded and honours x-should-retry: false on a 500', async () => {
      const model = await modelFor([{ fault: 'overloaded' }, { fault: 'server-error', shouldRetry: false }]);
      const overloaded = (await rejectionOf(model.generate(simpleRequest, signal()))) as KeelError;
      expect([overloaded.code, overloaded.retryable]).toEqual(['model-overloaded', true]);
      const final = (await rejectionOf(model.generate(simpleRequest, signal()))) as KeelError;
      expect([final.code, final.retryable]).toEqual(['model-server-error', false]);
    });

    it('maps an error event after the 200 to the error it names', async () => {
      const model = await modelFor([{ fault: 'stream-error', errorType: 'overloaded_error' }]);
      const error = (await rejectionOf(collectParts(model, simpleRequest))) as KeelError;
      expect(error.code).toBe('model-overloaded');
      expect(error.retryable).toBe(true);
      expect(error.details.midStream).toBe(true);
    });

    it('reports a stream that ends without message_stop as a retryable cut', async () => {
      const model = await modelFor([{ fault: 'cut' }]);
      const error = (await rejectionOf(collectParts(model, simpleRequest))) as KeelError;
      expect([error.code, error.retryable]).toEqual(['model-stream-cut', true]);
    });

    it('reports a reset mid-stream as a cut and a reset before the response as a connection failure', async () => {
      const model = await modelFor([{ fault: 'reset' }, { fault: 'reset' }]);
      const midStream = (await rejectionOf(collectParts(model, simpleRequest))) as KeelError;
      expect([midStream.code, midStream.retryable]).toEqual(['model-stream-cut', true]);
      const before = (await rejectionOf(model.generate(simpleRequest, signal()))) as KeelError;
      expect([before.code, before.retryable]).toEqual(['model-connection', true]);
    });

    it('reports a truncated JSON body as a malformed response', async () => {
      const model = await modelFor([{ fault: 'cut' }]);
      const error = (await rejectionOf(model.generate(simpleRequest, signal()))) as KeelError;
      expect([error.code, error.retryable]).toEqual(['model-malformed-response', true]);
    });

    it('times out on a slow first byte', async () => {
      // The first byte would come only after a minute: a model-timeout at all shows the 100 ms limit fired.
      const model = await modelFor([{ fault: 'slow-first-byte', delayMs: 60_000 }], { timeoutMs: 100 });
      const error = (await rejectionOf(model.generate(simpleRequest, signal()))) as KeelError;
      expect([error.code, error.retryable]).toEqual(['model-timeout', true]);
    });

    it('turns an abort in the middle of a stream into cancelled, not a cut', async () => {
      const model = await modelFor([{ content: [{ type: 'text', text: 'A long answer that streams in several pieces.' }] }]);
      const controller = new AbortController();
      const error = (await rejectionOf(
        (async () => {
          for await (const part of model.stream(simpleRequest, controller.signal)) {
            if (part.type === 'text-delta') controller.abort();
          }
        })(),
      )) as KeelError;
      expect(error.code).toBe('cancelled');
    });

    it('keeps a KeelError abort reason, such as a deadline', async () => {
      const model = await modelFor([{ fault: 'slow-first-byte', delayMs: 2_000 }]);
      const controller = new AbortController();
      setTimeout(() => controller.abort(new KeelError('deadline-exceeded', 'The session deadline passed.')), 50);
      const error = (await rejectionOf(model.generate(simpleRequest, controller.signal))) as KeelError;
      expect(error.code).toBe('deadline-exceeded');
    });
  });
});
