import { APIConnectionError, APIConnectionTimeoutError, APIError as AnthropicApiError, APIUserAbortError } from '@anthropic-ai/sdk';
import { APIError as OpenAIApiError } from 'openai';
import { describe, expect, it } from 'vitest';
import { KeelError } from '../errors/index.ts';
import { mapProviderError, mapStreamError } from './provider-errors.ts';

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
