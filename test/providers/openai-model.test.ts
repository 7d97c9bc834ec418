import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeelError } from '../../src/errors/index.ts';
import { createOpenAIModel } from '../../src/model/index.ts';
import type { OpenAIProviderName } from '../../src/model/index.ts';
import { startMockOpenAIServer } from '../../src/testing/index.ts';
import type { MockServer, OpenAIMockReply } from '../../src/testing/index.ts';
import { collectParts, finishOf, rejectionOf, roundTripRequest, simpleRequest } from './helpers.ts';

let server: MockServer | undefined;
/** The client the tests of the current `describe.each` run use. */
let client: 'direct' | 'sdk' = 'direct';
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function modelFor(script: readonly OpenAIMockReply[] | ((body: unknown, index: number) => OpenAIMockReply), options: { provider?: OpenAIProviderName; timeoutMs?: number } = {}) {
  server = await startMockOpenAIServer({ script });
  return createOpenAIModel({ client, modelId: 'gpt-4o', apiKey: 'sk-test', baseURL: server.baseURL, ...options });
}

const signal = (): AbortSignal => new AbortController().signal;

// Both clients (Keel's direct one, the default, and the official SDK's) must pass every test of this file.
describe.each(['direct', 'sdk'] as const)('%s client', (kind) => {
  beforeEach(() => {
    client = kind;
  });

  describe('OpenAI request wire shape', () => {
    it('sends a system message, one role:tool message per result, tool calls as JSON strings and function tools', async () => {
      const model = await modelFor([{ content: 'ok' }]);
      await model.generate(roundTripRequest, signal());
      const recorded = server!.requests[0]!;
      expect(recorded.path).toBe('/v1/chat/completions');
      expect(recorded.headers.authorization).toBe('Bearer sk-test');
      if (client === 'sdk') expect(recorded.headers['x-stainless-retry-count']).toBe('0');
      else expect([recorded.headers['x-stainless-retry-count'], recorded.headers['user-agent']]).toEqual([undefined, expect.stringMatching(/^keel /)]);
      expect(recorded.body).toEqual({
        model: 'gpt-4o',
        messages: [
          { role: 'system', content: 'You are a weather assistant.' },
          { role: 'user', content: 'Weather in Paris and Oslo?' },
          {
            role: 'assistant',
            content: "I'll check both.",
            tool_calls: [
              { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
              { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{}' } },
            ],
          },
          { role: 'tool', tool_call_id: 'call_1', content: '15°C, light rain' },
          { role: 'tool', tool_call_id: 'call_2', content: 'Error: invalid JSON arguments' },
        ],
        max_completion_tokens: 512,
        tools: [
          {
            type: 'function',
            function: {
              name: 'get_weather',
              description: 'Get the current weather for a city',
              parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
            },
          },
        ],
        tool_choice: 'required',
        temperature: 0.2,
        stop: ['END'],
        stream: false,
      });
    });

    it('streams with include_usage, uses max_tokens for compatible servers, and sends content null for tool-only turns', async () => {
      const model = await modelFor([{ content: 'ok' }], { provider: 'openai-compatible' });
      const onlyTools = {
        ...simpleRequest,
        messages: [...simpleRequest.messages, { role: 'assistant' as const, content: [{ type: 'tool_use' as const, id: 'c1', name: 'get_weather', input: { city: 'Oslo' } }] }],
        tools: roundTripRequest.tools,
        toolChoice: { name: 'get_weather' },
      };
      await collectParts(model, onlyTools);
      const body = server!.requests[0]!.body as Record<string, unknown>;
      expect(body.stream).toBe(true);
      expect(body.stream_options).toEqual({ include_usage: true });
      expect(body.max_tokens).toBe(256);
      expect(body.max_completion_tokens).toBeUndefined();
      expect(body.tool_choice).toEqual({ type: 'function', function: { name: 'get_weather' } });
      expect((body.messages as unknown[])[2]).toEqual({ role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] });
    });
  });

  describe('OpenAI responses', () => {
    const reply: OpenAIMockReply = {
      id: 'chatcmpl-reply',
      model: 'gpt-4o-2024-08-06',
      content: "I'll check the weather.",
      toolCalls: [
        { id: 'call_a', name: 'get_weather', arguments: { city: 'Paris' } },
        { id: 'call_b', name: 'get_weather', arguments: { city: 'Oslo' } },
      ],
      usage: { prompt_tokens: 100, completion_tokens: 17, cached_tokens: 30 },
    };
    const expected = {
      id: 'chatcmpl-reply',
      model: 'gpt-4o-2024-08-06',
      content: [
        { type: 'text', text: "I'll check the weather." },
        { type: 'tool_use', id: 'call_a', name: 'get_weather', input: { city: 'Paris' } },
        { type: 'tool_use', id: 'call_b', name: 'get_weather', input: { city: 'Oslo' } },
      ],
      stopReason: 'tool_use',
      providerStopReason: 'tool_calls',
      // prompt_tokens include the cached ones; Keel's inputTokens do not.
      usage: { inputTokens: 70, outputTokens: 17, cacheReadTokens: 30, cacheWriteTokens: 0 },
    };

    it('maps a completion: text, parallel tool calls, finish reason and usage', async () => {
      const model = await modelFor([reply]);
      expect(await model.generate(simpleRequest, signal())).toEqual(expected);
    });

    it('assembles argument fragments per tool-call index in a stream', async () => {
      const model = await modelFor([reply]);
      const parts = await collectParts(model, simpleRequest);
      expect(finishOf(parts).response).toEqual(expected);
      expect(parts.filter((part) => part.type === 'tool-call-start')).toEqual([
        { type: 'tool-call-start', index: 0, id: 'call_a', name: 'get_weather' },
        { type: 'tool-call-start', index: 1, id: 'call_b', name: 'get_weather' },
      ]);
      const secondArguments = parts.flatMap((part) => (part.type === 'tool-call-delta' && part.index === 1 ? [part.argumentsDelta] : []));
      expect(secondArguments.length).toBeGreaterThan(1);
      expect(secondArguments.join('')).toBe('{"city":"Oslo"}');
    });

    it.each([
      ['stop', 'end_turn'],
      ['tool_calls', 'tool_use'],
      ['length', 'max_tokens'],
      ['content_filter', 'content_filter'],
      ['function_call', 'tool_use'],
    ] as const)('maps finish reason %s to %s, streaming and not', async (finishReason, keel) => {
      const model = await modelFor(() => ({ content: 'x', finishReason }));
      const plain = await model.generate(simpleRequest, signal());
      const streamed = finishOf(await collectParts(model, simpleRequest)).response;
      for (const response of [plain, streamed]) {
        expect(response.stopReason).toBe(keel);
        expect(response.providerStopReason).toBe(finishReason);
      }
    });

    it('reports a refusal as stopReason refusal with its text, streaming and not', async () => {
      const model = await modelFor(() => ({ refusal: "I can't help with that." }));
      const plain = await model.generate(simpleRequest, signal());
      const streamed = finishOf(await collectParts(model, simpleRequest)).response;
      for (const response of [plain, streamed]) {
        expect(response.stopReason).toBe('refusal');
        expect(response.providerStopReason).toBe('stop');
        expect(response.content).toEqual([{ type: 'text', text: "I can't help with that." }]);
      }
    });

    it('keeps invalid argument JSON as malformedInput, streaming and not', async () => {
      const model = await modelFor(() => ({ fault: 'malformed-tool-json', name: 'get_weather', arguments: '{"city": Paris}' }));
      const plain = await model.generate(simpleRequest, signal());
      const streamed = finishOf(await collectParts(model, simpleRequest)).response;
      for (const response of [plain, streamed]) {
        expect(response.content).toEqual([{ type: 'tool_use', id: expect.stringMatching(/^call_mock_/), name: 'get_weather', input: {}, malformedInput: '{"city": Paris}' }]);
      }
    });

    it('accepts a compatible server that sends no usage chunk, but not OpenAI itself', async () => {
      const compatible = await modelFor([{ content: 'hi', usage: null }], { provider: 'openai-compatible' });
      const response = finishOf(await collectParts(compatible, simpleRequest)).response;
      expect(response.usage).toEqual({ inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 });
      expect(compatible.provider).toBe('openai-compatible');
      await server!.close();
      const openai = await modelFor([{ content: 'hi', usage: null }]);
      const error = (await rejectionOf(collectParts(openai, simpleRequest))) as KeelError;
      expect([error.code, error.retryable]).toEqual(['model-stream-cut', true]);
      expect(error.message).toMatch(/usage chunk/);
    });
  });

  describe('OpenAI failures', () => {
    it.each([
      ['quota', 'model-quota-exhausted', 429, /quota/],
      ['auth', 'model-authentication', 401, /OPENAI_API_KEY/],
      ['bad-request', 'model-bad-request', 400, /rejected the request/],
      ['context-window', 'model-context-window', 400, /context window/],
    ] as const)('%s surfaces as %s, not retryable', async (fault, code, status, wording) => {
      const model = await modelFor([{ fault }, { fault }]);
      for (const attempt of [model.generate(simpleRequest, signal()), collectParts(model, simpleRequest)]) {
        const error = (await rejectionOf(attempt)) as KeelError;
        expect(error).toBeInstanceOf(KeelError);
        expect(error.code).toBe(code);
        expect(error.retryable).toBe(false);
        expect(error.message).toMatch(wording);
        expect(error.details).toMatchObject({ provider: 'openai', model: 'gpt-4o', status });
        expect(error.details.requestId).toMatch(/^req_mock_/);
      }
    });

    it('reads retry-after-ms from a 429', async () => {
      const model = await modelFor([{ fault: 'rate-limit', retryAfterMs: 250 }]);
      const error = (await rejectionOf(model.generate(simpleRequest, signal()))) as KeelError;
      expect([error.code, error.retryable, error.retryAfterMs]).toEqual(['model-rate-limited', true, 250]);
    });

    it('treats a 503 as a retryable server error and honours x-should-retry: false', async () => {
      const model = await modelFor([{ fault: 'overloaded' }, { fault: 'server-error', shouldRetry: false }]);
      const overloaded = (await rejectionOf(model.generate(simpleRequest, signal()))) as KeelError;
      expect([overloaded.code, overloaded.retryable, overloaded.details.status]).toEqual(['model-server-error', true, 503]);
      const final = (await rejectionOf(model.generate(simpleRequest, signal()))) as KeelError;
      expect([final.code, final.retryable]).toEqual(['model-server-error', false]);
    });

    it('maps a data: {"error"} chunk after the 200', async () => {
      const model = await modelFor([{ fault: 'stream-error' }]);
      const error = (await rejectionOf(collectParts(model, simpleRequest))) as KeelError;
      expect([error.code, error.retryable, error.details.midStream]).toEqual(['model-server-error', true, true]);
    });

    it('reports a stream without finish or [DONE] as a cut, and a reset as a cut or a connection failure', async () => {
      const model = await modelFor([{ fault: 'cut' }, { fault: 'reset' }, { fault: 'reset' }]);
      const cut = (await rejectionOf(collectParts(model, simpleRequest))) as KeelError;
      expect([cut.code, cut.retryable]).toEqual(['model-stream-cut', true]);
      const midStream = (await rejectionOf(collectParts(model, simpleRequest))) as KeelError;
      expect(midStream.code).toBe('model-stream-cut');
      const before = (await rejectionOf(model.generate(simpleRequest, signal()))) as KeelError;
      expect(before.code).toBe('model-connection');
    });

    it('times out on a slow first byte', async () => {
      const model = await modelFor([{ fault: 'slow-first-byte', delayMs: 1_000 }], { timeoutMs: 100 });
      const error = (await rejectionOf(collectParts(model, simpleRequest))) as KeelError;
      expect([error.code, error.retryable]).toEqual(['model-timeout', true]);
    });

    it('refuses to build a client without an API key, naming the variable', () => {
      const saved = process.env.OPENAI_API_KEY;
      delete process.env.OPENAI_API_KEY;
      try {
        expect(() => createOpenAIModel({ client, modelId: 'gpt-4o' })).toThrow(expect.objectContaining({ code: 'missing-credentials', message: expect.stringMatching(/OPENAI_API_KEY/) }));
      } finally {
        if (saved !== undefined) process.env.OPENAI_API_KEY = saved;
      }
    });
  });
});
