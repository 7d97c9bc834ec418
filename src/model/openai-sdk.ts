import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type { ChatCompletionCreateParamsBase } from 'openai/resources/chat/completions';
import { sharedNodeHttpFetch } from './node-http-fetch.ts';
import { observingResponseHeaders, reportingFetch } from './limits/response-headers.ts';
import type { OpenAICompletionShape } from './openai-response.ts';
import { endAfterFinish, finishedStreamGraceMs } from './openai-stream.ts';
import type { OpenAIChunkShape } from './openai-stream.ts';
import { recogniseSdkErrors } from './provider-errors.ts';

// This module is the only one in the model layer that loads the OpenAI SDK, and it is itself loaded on a model's first
// call through the SDK: a process that never uses the SDK does not pay for loading it.
recogniseSdkErrors({ abort: APIUserAbortError, timeout: APIConnectionTimeoutError, connection: APIConnectionError, api: APIError });

export interface OpenAISdkOptions {
  /** Checked by the model before this module is loaded: the SDK refuses to build a client without one. */
  readonly apiKey: string;
  readonly baseURL?: string;
  readonly fetch?: typeof globalThis.fetch;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

/** What sends a model's Chat Completions requests: the direct client or the SDK, behind one shape. */
export interface OpenAITransport {
  create(params: ChatCompletionCreateParamsBase, signal: AbortSignal): Promise<OpenAICompletionShape>;
  stream(params: ChatCompletionCreateParamsBase, signal: AbortSignal): Promise<AsyncIterable<OpenAIChunkShape>>;
}

/** Chat Completions through the official SDK: no retries of its own (the gateway retries), headers reported to the limiter. */
export function createOpenAISdkTransport(options: OpenAISdkOptions): OpenAITransport {
  const client = new OpenAI({
    apiKey: options.apiKey,
    ...(options.baseURL === undefined ? {} : { baseURL: options.baseURL }),
    // Response headers reach the gateway's rate limiter (its buckets follow the provider's rate-limit headers).
    fetch: reportingFetch(options.fetch ?? sharedNodeHttpFetch()),
    ...(options.headers === undefined ? {} : { defaultHeaders: { ...options.headers } }),
    maxRetries: 0,
    timeout: options.timeoutMs,
  });
  return {
    create: async (params, signal) => (await observingResponseHeaders(signal, () => client.chat.completions.create({ ...params, stream: false }, { signal }))) as unknown as OpenAICompletionShape,
    stream: async (params, signal) => {
      const stream = await observingResponseHeaders(signal, () => client.chat.completions.create({ ...params, stream: true }, { signal }));
      return endAfterFinish(stream as unknown as AsyncIterable<OpenAIChunkShape>, { graceMs: finishedStreamGraceMs, abort: () => stream.controller.abort() });
    },
  };
}
