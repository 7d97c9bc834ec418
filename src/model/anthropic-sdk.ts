import Anthropic, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from '@anthropic-ai/sdk';
import { sharedNodeHttpFetch } from './node-http-fetch.ts';
import { reportingFetch } from './limits/response-headers.ts';
import { recogniseSdkErrors } from './provider-errors.ts';

// This module is the only one that loads the Anthropic SDK, and it is itself loaded on a model's first call through
// the SDK (or its first token count): a process that never uses the SDK does not pay for loading it.
recogniseSdkErrors({ abort: APIUserAbortError, timeout: APIConnectionTimeoutError, connection: APIConnectionError, api: APIError });

export interface AnthropicSdkOptions {
  readonly apiKey?: string;
  readonly baseURL?: string;
  readonly fetch?: typeof globalThis.fetch;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

/** The SDK client of a model: no retries of its own (the gateway retries), response headers reported to the limiter. */
export function createAnthropicSdkClient(options: AnthropicSdkOptions): Anthropic {
  return new Anthropic({
    ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
    ...(options.baseURL === undefined ? {} : { baseURL: options.baseURL }),
    // Response headers reach the gateway's rate limiter (its buckets follow the provider's rate-limit headers).
    fetch: reportingFetch(options.fetch ?? sharedNodeHttpFetch()),
    ...(options.headers === undefined ? {} : { defaultHeaders: { ...options.headers } }),
    maxRetries: 0,
    timeout: options.timeoutMs,
  });
}
