import Anthropic from '@anthropic-ai/sdk';
import type { Model, ModelRequest, ModelResponse, ModelStreamPart } from '../spec/model.ts';
import { toAnthropicParams } from './anthropic-request.ts';
import { fromAnthropicMessage } from './anthropic-response.ts';
import type { AnthropicMessageShape } from './anthropic-response.ts';
import { assembleAnthropicStream } from './anthropic-stream.ts';
import { anthropicTokenCounting } from './anthropic-token-count.ts';
import type { AnthropicStreamEvent } from './anthropic-stream.ts';
import { sharedNodeHttpFetch } from './node-http-fetch.ts';
import { reportingFetch } from './limits/response-headers.ts';
import { cancellationError, mapProviderError, mapStreamError } from './provider-errors.ts';
import type { ProviderErrorContext } from './provider-errors.ts';

export interface AnthropicModelOptions {
  readonly modelId: string;
  /** Defaults to the SDK's own lookup (ANTHROPIC_API_KEY). */
  readonly apiKey?: string;
  /** Defaults to ANTHROPIC_BASE_URL, then the public API. */
  readonly baseURL?: string;
  /**
   * The HTTP transport under the SDK. Defaults to Keel's keep-alive transport on node:http (`sharedNodeHttpFetch`),
   * which costs less CPU per call than undici; pass `globalThis.fetch` for the SDK's usual transport.
   */
  readonly fetch?: typeof globalThis.fetch;
  readonly headers?: Readonly<Record<string, string>>;
  /** Time to wait for the response headers of one attempt. Defaults to 10 minutes: long generations are normal. */
  readonly timeoutMs?: number;
}

const defaultTimeoutMs = 600_000;

/**
 * The Messages API through the official SDK, with the SDK's retries off: the gateway owns retrying.
 * @example
 * ```ts
 * const model = createAnthropicModel({ modelId: 'claude-sonnet-4-6', apiKey: process.env.ANTHROPIC_API_KEY });
 * // Registered by name, so a session resumed in another process continues with the same model.
 * const keel = createKeel({ models: { sonnet: model }, model: 'sonnet' });
 * ```
 */
export function createAnthropicModel(options: AnthropicModelOptions): Model {
  const client = new Anthropic({
    ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
    ...(options.baseURL === undefined ? {} : { baseURL: options.baseURL }),
    // Response headers reach the gateway's rate limiter (its buckets follow the provider's rate-limit headers).
    fetch: reportingFetch(options.fetch ?? sharedNodeHttpFetch()),
    ...(options.headers === undefined ? {} : { defaultHeaders: { ...options.headers } }),
    maxRetries: 0,
    timeout: options.timeoutMs ?? defaultTimeoutMs,
  });
  const modelId = options.modelId;
  const context = (signal: AbortSignal): ProviderErrorContext => ({
    provider: 'anthropic',
    modelId,
    signal,
    ...(options.baseURL === undefined ? {} : { baseURL: options.baseURL }),
  });

  return {
    provider: 'anthropic',
    modelId,
    // countTokens, only when a key is configured: the context planner's exact fit check.
    ...anthropicTokenCounting(client, modelId, options.baseURL),

    async generate(request: ModelRequest, signal: AbortSignal): Promise<ModelResponse> {
      if (signal.aborted) throw cancellationError(signal);
      try {
        const message = await client.messages.create({ ...toAnthropicParams(modelId, request), stream: false }, { signal });
        return fromAnthropicMessage(message as unknown as AnthropicMessageShape);
      } catch (error) {
        throw mapProviderError(error, context(signal));
      }
    },

    async *stream(request: ModelRequest, signal: AbortSignal): AsyncGenerator<ModelStreamPart> {
      if (signal.aborted) throw cancellationError(signal);
      let events: AsyncIterable<AnthropicStreamEvent>;
      try {
        const stream = await client.messages.create({ ...toAnthropicParams(modelId, request), stream: true }, { signal });
        events = stream as unknown as AsyncIterable<AnthropicStreamEvent>;
      } catch (error) {
        throw mapProviderError(error, context(signal));
      }
      try {
        for await (const part of assembleAnthropicStream(events, modelId)) {
          // Events already buffered keep flowing after an abort; the consumer must not see them.
          if (signal.aborted) throw cancellationError(signal);
          yield part;
        }
        // The SDK also ends the iteration quietly on abort; mapStreamError reports that as the cancellation, not a cut.
      } catch (error) {
        throw mapStreamError(error, context(signal));
      }
    },
  };
}
