import { APIConnectionError, APIConnectionTimeoutError, APIError as AnthropicApiError, APIUserAbortError } from '@anthropic-ai/sdk';
import { APIConnectionError as OpenAIConnectionError, APIConnectionTimeoutError as OpenAITimeoutError, APIError as OpenAIApiError } from 'openai';
import { describe, expect, it } from 'vitest';
import { KeelError } from '../errors/index.ts';
// Loading the SDKs' modules is what makes the mapping recognise their errors, as on a model's first call.
import './anthropic-sdk.ts';
import './openai-sdk.ts';
import { mapProviderError, mapStreamError } from './provider-errors.ts';
import { anthropicApiError, openAIApiError, openAIErrorObject, ProviderConnectionError, ProviderTimeoutError } from './provider-failures.ts';

const anthropic = { provider: 'anthropic', modelId: 'claude-haiku-4-5' };
const openai = { provider: 'openai', modelId: 'gpt-4o' };

function anthropicError(status: number, type: string, message: string, headers: Record<string, string> = {}): AnthropicApiError {
  return AnthropicApiError.generate(status, { type: 'error', error: { type, message } }, undefined, new Headers({ 'request-id': 'req_1', ...headers }));
}

function openAIError(status: number, error: Record<string, unknown>, headers: Record<string, string> = {}): OpenAIApiError {
  return OpenAIApiError.generate(status, { error }, undefined, new Headers({ 'x-request-id': 'req_2', ...headers }));
}

describe('mapProviderError', () => {
  it.each([
    [anthropicError(429, 'rate_limit_error', 'slow down'), 'model-rate-limited', true],
    [anthropicError(529, 'overloaded_error', 'Overloaded'), 'model-overloaded', true],
    [anthropicError(500, 'api_error', 'oops'), 'model-server-error', true],
    [anthropicError(502, 'api_error', 'bad gateway'), 'model-server-error', true],
    [anthropicError(503, 'api_error', 'unavailable'), 'model-server-error', true],
    [anthropicError(504, 'timeout_error', 'timeout'), 'model-server-error', true],
    [anthropicError(400, 'invalid_request_error', 'prompt is too long: 210000 tokens > 200000 maximum'), 'model-context-window', false],
    [anthropicError(400, 'invalid_request_error', 'messages.0: bad'), 'model-bad-request', false],
    [anthropicError(422, 'invalid_request_error', 'unprocessable'), 'model-bad-request', false],
    [anthropicError(401, 'authentication_error', 'invalid x-api-key'), 'model-authentication', false],
    [anthropicError(403, 'permission_error', 'no access'), 'model-permission', false],
    [anthropicError(404, 'not_found_error', 'model: claude-nope'), 'model-not-found', false],
    [anthropicError(402, 'billing_error', 'credit balance too low'), 'model-quota-exhausted', false],
    [openAIError(429, { type: 'insufficient_quota', code: 'insufficient_quota', message: 'quota' }), 'model-quota-exhausted', false],
    [openAIError(429, { type: 'requests', code: 'rate_limit_exceeded', message: 'rpm' }), 'model-rate-limited', true],
    [openAIError(400, { type: 'invalid_request_error', code: 'context_length_exceeded', message: 'too long' }), 'model-context-window', false],
    [openAIError(503, { type: 'server_error', message: 'overloaded' }), 'model-server-error', true],
  ] as const)('maps %s to %s', (error, code, retryable) => {
    const mapped = mapProviderError(error, error instanceof OpenAIApiError ? openai : anthropic);
    expect(mapped.code).toBe(code);
    expect(mapped.retryable).toBe(retryable);
    expect(mapped.cause).toBe(error);
    expect(mapped.details.status).toBe(error.status);
    expect(mapped.details.requestId).toMatch(/^req_/);
  });

  it('lets x-should-retry override the default either way', () => {
    expect(mapProviderError(anthropicError(500, 'api_error', 'x', { 'x-should-retry': 'false' }), anthropic).retryable).toBe(false);
    expect(mapProviderError(openAIError(400, { type: 'invalid_request_error', message: 'x' }, { 'x-should-retry': 'true' }), openai).retryable).toBe(true);
  });

  it('reads retry-after-ms before retry-after', () => {
    expect(mapProviderError(anthropicError(429, 'rate_limit_error', 'x', { 'retry-after': '7', 'retry-after-ms': '120' }), anthropic).retryAfterMs).toBe(120);
    expect(mapProviderError(anthropicError(429, 'rate_limit_error', 'x', { 'retry-after': '7' }), anthropic).retryAfterMs).toBe(7000);
    expect(mapProviderError(anthropicError(429, 'rate_limit_error', 'x'), anthropic).retryAfterMs).toBeUndefined();
  });

  it('writes messages that say what to do', () => {
    expect(mapProviderError(anthropicError(401, 'authentication_error', 'invalid x-api-key'), anthropic).message).toMatch(/ANTHROPIC_API_KEY/);
    expect(mapProviderError(openAIError(401, { type: 'invalid_request_error', code: 'invalid_api_key', message: 'bad key' }), openai).message).toMatch(/OPENAI_API_KEY/);
    expect(mapProviderError(anthropicError(404, 'not_found_error', 'model: claude-nope'), anthropic).message).toMatch(/--model/);
  });

  it('maps an error event from inside a stream by its type', () => {
    const midStream = new AnthropicApiError(undefined, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, undefined, new Headers(), 'overloaded_error');
    const mapped = mapStreamError(midStream, anthropic);
    expect([mapped.code, mapped.retryable, mapped.details.midStream]).toEqual(['model-overloaded', true, true]);
    expect(mapped.message).toMatch(/in the stream/);
    const invalid = new OpenAIApiError(undefined, { type: 'invalid_request_error', message: 'bad' }, undefined, new Headers());
    expect(mapStreamError(invalid, openai).code).toBe('model-bad-request');
  });

  it('maps connection problems, timeouts and aborts', () => {
    expect(mapProviderError(new APIConnectionError({ message: 'Connection error.', cause: new TypeError('fetch failed') }), { ...anthropic, baseURL: 'http://127.0.0.1:1' }).message).toMatch(/127\.0\.0\.1:1.*ANTHROPIC_BASE_URL/);
    expect(mapProviderError(new APIConnectionTimeoutError(), anthropic).code).toBe('model-timeout');
    expect(mapProviderError(new APIUserAbortError(), anthropic).code).toBe('cancelled');
    const controller = new AbortController();
    controller.abort();
    expect(mapProviderError(new TypeError('terminated'), { ...openai, signal: controller.signal }).code).toBe('cancelled');
  });

  it('reads anything else thrown while streaming as a cut, and a broken JSON body as malformed', () => {
    expect(mapStreamError(new TypeError('terminated'), openai).code).toBe('model-stream-cut');
    expect(mapProviderError(new SyntaxError('Unexpected end of JSON input'), openai).code).toBe('model-malformed-response');
    expect(mapProviderError(new RangeError('surprise'), openai).code).toBe('internal');
    const keel = new KeelError('model-stream-cut', 'already mapped');
    expect(mapStreamError(keel, openai)).toBe(keel);
  });
});

describe('the direct clients\' errors map exactly as the SDKs\' do', () => {
  const mapped = (error: unknown, context: { provider: string; modelId: string }): unknown => {
    const keel = mapProviderError(error, context);
    return { code: keel.code, message: keel.message, retryable: keel.retryable, retryAfterMs: keel.retryAfterMs, details: keel.details };
  };
  const bodies: readonly [number, unknown, string | undefined, Record<string, string>][] = [
    [429, { type: 'error', error: { type: 'rate_limit_error', message: 'Slow down.' } }, undefined, { 'retry-after': '7', 'request-id': 'req_1' }],
    [529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }, undefined, { 'x-should-retry': 'false' }],
    [400, { type: 'error', error: { type: 'invalid_request_error', message: 'prompt is too long: 300000 tokens', details: { error_code: 'too_long' } } }, undefined, {}],
    [401, { error: { message: 'Incorrect API key', type: 'invalid_request_error', code: 'invalid_api_key' } }, undefined, { 'x-request-id': 'req_2' }],
    [429, { error: { message: 'You exceeded your quota', type: 'insufficient_quota', code: 'insufficient_quota' } }, undefined, {}],
    [502, undefined, '<html>Bad gateway</html>', {}],
    [500, undefined, undefined, {}],
    [404, 'not an object', undefined, {}],
    [403, { message: 'no error key' }, undefined, {}],
  ];

  it('for every status and body, on both providers', () => {
    for (const [status, body, text, headerRecord] of bodies) {
      const headers = new Headers(headerRecord);
      expect(mapped(anthropicApiError(status, body, text, headers), anthropic)).toEqual(mapped(AnthropicApiError.generate(status, body as object | undefined, text, headers), anthropic));
      expect(mapped(openAIApiError(status, openAIErrorObject(body), text, headers), openai)).toEqual(mapped(OpenAIApiError.generate(status, body as object | undefined, text, headers), openai));
    }
  });

  it('for error events inside a stream, connection failures and timeouts', () => {
    const headers = new Headers({ 'request-id': 'req_3', 'x-request-id': 'req_4' });
    const anthropicEvent = { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } };
    expect(mapped(anthropicApiError(undefined, anthropicEvent, undefined, headers, 'overloaded_error'), anthropic)).toEqual(mapped(new AnthropicApiError(undefined, anthropicEvent, undefined, headers, 'overloaded_error'), anthropic));
    expect(mapStreamError(anthropicApiError(undefined, anthropicEvent, undefined, headers), anthropic).code).toBe('model-overloaded');
    const openAIEvent = { message: 'The server had an error', type: 'server_error', code: null };
    expect(mapped(openAIApiError(undefined, openAIEvent, undefined, headers), openai)).toEqual(mapped(new OpenAIApiError(undefined, openAIEvent, undefined, headers), openai));
    const cause = new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') });
    expect(mapped(new ProviderConnectionError({ cause }), openai)).toEqual(mapped(new OpenAIConnectionError({ cause }), openai));
    expect(mapped(new ProviderConnectionError({ cause }), anthropic)).toEqual(mapped(new APIConnectionError({ cause }), anthropic));
    expect(mapped(new ProviderTimeoutError(), openai)).toEqual(mapped(new OpenAITimeoutError(), openai));
    expect(mapStreamError(new ProviderConnectionError({ cause }), anthropic).code).toBe(mapStreamError(new APIConnectionError({ cause }), anthropic).code);
  });
});
