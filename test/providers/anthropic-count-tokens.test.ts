import { afterEach, describe, expect, it } from 'vitest';
import { KeelError } from '../../src/errors/index.ts';
import { createAnthropicModel } from '../../src/model/index.ts';
import { toAnthropicCountParams } from '../../src/model/anthropic-token-count.ts';
import { startMockAnthropicServer } from '../../src/testing/index.ts';
import type { MockServer } from '../../src/testing/index.ts';
import type { AnthropicMockCountReply } from '../../src/testing/mock-anthropic-server.ts';
import { mockInputTokens } from '../../src/testing/mock-anthropic-count-tokens.ts';
import type { MockScript } from '../../src/testing/mock-http-server.ts';
import { rejectionOf, roundTripRequest, simpleRequest } from './helpers.ts';

let server: MockServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const signal = (): AbortSignal => new AbortController().signal;

async function start(countTokens?: MockScript<AnthropicMockCountReply>, apiKey?: string): Promise<MockServer> {
  server = await startMockAnthropicServer({ script: [], ...(countTokens === undefined ? {} : { countTokens }), ...(apiKey === undefined ? {} : { apiKey }) });
  return server;
}

/** Posts a raw body, as a client other than the SDK could, to see the mock's own checks. */
async function post(body: unknown, headers: Record<string, string> = { 'x-api-key': 'sk-ant-test', 'anthropic-version': '2023-06-01' }): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${server!.url}/v1/messages/count_tokens`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

const user = (text: string) => ({ role: 'user', content: [{ type: 'text', text }] });

describe('the mock count-tokens endpoint', () => {
  it('answers {"input_tokens": N} by its documented rule, without touching the Messages script', async () => {
    await start();
    const body = { model: 'claude-sonnet-4-6', system: 'Be brief.', messages: [user('Hello')] };
    const answer = await post(body);
    expect(answer).toEqual({ status: 200, body: { input_tokens: mockInputTokens(body) } });
    // 3 + message (4 + block 3 + ⌈5/3⌉) + system ⌈9/3⌉
    expect(mockInputTokens(body)).toBe(3 + 4 + 3 + 2 + 3);
  });

  it.each([
    ['an output setting', { max_tokens: 10 }, 'max_tokens: Extra inputs are not permitted'],
    ['no model', { model: undefined }, 'model: Field required'],
    ['no messages', { messages: [] }, 'messages: at least one message is required'],
    ['an empty text block', { messages: [user('')] }, 'messages.0.content.0.text: text content blocks must be non-empty'],
    ['a tool result without its call', { messages: [user('hi'), { role: 'assistant', content: [{ type: 'text', text: 'ok' }] }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'call_9', content: 'x' }] }] }, 'unexpected `tool_use_id` found in `tool_result` blocks: call_9'],
    ['a bad tool name', { tools: [{ name: 'get weather', input_schema: { type: 'object' } }] }, "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'"],
    ['a tool choice naming no tool', { tool_choice: { type: 'tool', name: 'missing' } }, "tool_choice.tool.name: Tool 'missing' not found in provided tools"],
    ['a thinking budget under 1,024', { thinking: { type: 'enabled', budget_tokens: 512 } }, 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024'],
  ])('rejects %s with the real 400 shape', async (_name, change, message) => {
    await start();
    const answer = await post({ model: 'claude-sonnet-4-6', messages: [user('Hello')], ...change });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' }, request_id: expect.stringMatching(/^req_mock_/) });
    expect((answer.body as { error: { message: string } }).error.message).toContain(message);
  });

  it('answers 401 authentication_error without a key, or with another key than the one it was started with', async () => {
    await start(undefined, 'sk-ant-right');
    expect(await post({ model: 'm', messages: [user('hi')] }, { 'anthropic-version': '2023-06-01' })).toMatchObject({ status: 401, body: { error: { type: 'authentication_error', message: 'x-api-key header is required' } } });
    expect(await post({ model: 'm', messages: [user('hi')] }, { 'x-api-key': 'sk-ant-wrong', 'anthropic-version': '2023-06-01' })).toMatchObject({ status: 401, body: { error: { message: 'invalid x-api-key' } } });
    expect(await post({ model: 'm', messages: [user('hi')] }, { 'x-api-key': 'sk-ant-right' })).toMatchObject({ status: 400, body: { error: { message: 'anthropic-version: header is required' } } });
  });
});

describe('Anthropic countTokens through the official SDK', () => {
  it('is offered only when a key is configured', () => {
    const saved = { key: process.env.ANTHROPIC_API_KEY, token: process.env.ANTHROPIC_AUTH_TOKEN };
    delete process.env.ANTHROPIC_API_KEY;
    delete process.env.ANTHROPIC_AUTH_TOKEN;
    try {
      expect(createAnthropicModel({ modelId: 'claude-haiku-4-5', baseURL: 'http://127.0.0.1:9' }).countTokens).toBeUndefined();
      expect(createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'sk-ant-test', baseURL: 'http://127.0.0.1:9' }).countTokens).toBeTypeOf('function');
    } finally {
      if (saved.key !== undefined) process.env.ANTHROPIC_API_KEY = saved.key;
      if (saved.token !== undefined) process.env.ANTHROPIC_AUTH_TOKEN = saved.token;
    }
  });

  it('sends exactly the counted fields of the Messages body and returns the count', async () => {
    await start();
    const model = createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'sk-ant-test', baseURL: server!.baseURL });
    const tokens = await model.countTokens!(roundTripRequest, signal());
    const recorded = server!.requests[0]!;
    expect(recorded.path).toBe('/v1/messages/count_tokens');
    expect(recorded.body).toEqual(toAnthropicCountParams('claude-haiku-4-5', roundTripRequest));
    expect(recorded.body).not.toHaveProperty('max_tokens');
    expect(recorded.body).not.toHaveProperty('stop_sequences');
    expect(recorded.body).toMatchObject({ model: 'claude-haiku-4-5', system: 'You are a weather assistant.', tool_choice: { type: 'any' }, tools: [{ name: 'get_weather' }] });
    expect(tokens).toBe(mockInputTokens(recorded.body));
  });

  it('maps the endpoint failures to KeelErrors like any other call', async () => {
    await start([{ fault: 'overloaded' }, { fault: 'rate-limit', retryAfterSeconds: 3 }, { fault: 'bad-request', message: 'messages: boom' }, { inputTokens: 42 }]);
    const model = createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'sk-ant-test', baseURL: server!.baseURL });
    expect(await rejectionOf(model.countTokens!(simpleRequest, signal()))).toMatchObject({ code: 'model-overloaded' });
    expect(await rejectionOf(model.countTokens!(simpleRequest, signal()))).toMatchObject({ code: 'model-rate-limited', retryAfterMs: 3000 });
    const bad = await rejectionOf(model.countTokens!(simpleRequest, signal()));
    expect(bad).toBeInstanceOf(KeelError);
    expect((bad as KeelError).message).toContain('messages: boom');
    expect(await model.countTokens!(simpleRequest, signal())).toBe(42);
    // The Messages script was never consulted: counting keeps its own index.
    expect(server!.requests.every((request) => request.path === '/v1/messages/count_tokens')).toBe(true);
  });
});
