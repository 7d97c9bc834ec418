import type Anthropic from '@anthropic-ai/sdk';
import type { MessageCreateParamsBase } from '@anthropic-ai/sdk/resources/messages';
import type { Model, ModelRequest, ModelResponse, ModelStreamPart } from '../spec/model.ts';
import { anthropicDirectSettings, createAnthropicDirectClient } from './anthropic-direct.ts';
import type { AnthropicDirectClient } from './anthropic-direct.ts';
import { toAnthropicParams } from './anthropic-request.ts';
import { fromAnthropicMessage } from './anthropic-response.ts';
import type { AnthropicMessageShape } from './anthropic-response.ts';
import { assembleAnthropicStream } from './anthropic-stream.ts';
import { anthropicTokenCounting } from './anthropic-token-count.ts';
import type { AnthropicStreamEvent } from './anthropic-stream.ts';
import { directInputOf, positiveOption, readEnvironment } from './direct-settings.ts';
import { observingResponseHeaders } from './limits/response-headers.ts';
import type { DirectClientOptions } from './direct-settings.ts';
import { cancellationError, mapProviderError, mapStreamError } from './provider-errors.ts';
import type { ProviderErrorContext } from './provider-errors.ts';

export interface AnthropicModelOptions extends DirectClientOptions {
  readonly modelId: string;
  /** Defaults to ANTHROPIC_API_KEY (then ANTHROPIC_AUTH_TOKEN, then the SDK's own credential lookup). */
  readonly apiKey?: string;
  /** Defaults to ANTHROPIC_BASE_URL, then the public API. */
  readonly baseURL?: string;
  /**
   * The HTTP transport. Defaults to Keel's keep-alive transport on node:http (`sharedNodeHttpFetch`), which costs
   * less CPU per call than undici; pass `globalThis.fetch` for the usual one.
   */
  readonly fetch?: typeof globalThis.fetch;
  readonly headers?: Readonly<Record<string, string>>;
  /** Time to wait for the response headers of one attempt (and the whole body of a plain response). Defaults to 10 minutes: long generations are normal. */
  readonly timeoutMs?: number;
}

const defaultTimeoutMs = 600_000;

/** What sends a model's Messages requests: the direct client or the SDK, behind one shape. */
type AnthropicTransport = AnthropicDirectClient;

/**
 * The Messages API, sent by Keel's direct client on node:http (or, with `client: 'sdk'`, by the official SDK), with
 * no retries of its own: the gateway owns retrying. Models whose credentials only the SDK can resolve (no key or
 * token given or in the environment) always use the SDK.
 * @example
 * ```ts
 * const model = createAnthropicModel({ modelId: 'claude-sonnet-4-6', apiKey: process.env.ANTHROPIC_API_KEY });
 * // Registered by name, so a session resumed in another process continues with the same model.
 * const keel = createKeel({ models: { sonnet: model }, model: 'sonnet' });
 * ```
 */
export function createAnthropicModel(options: AnthropicModelOptions): Model {
  const timeoutMs = positiveOption('timeoutMs', options.timeoutMs, defaultTimeoutMs);
  // The SDK client also counts tokens, on either path; it is built, and the SDK loaded, on its first use.
  let client: Promise<Anthropic> | undefined;
  const sdkClient = (): Promise<Anthropic> => {
    client ??= import('./anthropic-sdk.ts').then(
      (sdk) => sdk.createAnthropicSdkClient({ ...pickDefined(options), timeoutMs }),
      (error: unknown) => {
        client = undefined;
        throw error;
      },
    );
    return client;
  };
  const modelId = options.modelId;
  const transport = anthropicTransport(options, sdkClient, timeoutMs);
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
    ...anthropicTokenCounting({ client: sdkClient, credentialed: hasSdkCredential(options.apiKey), modelId, ...(options.baseURL === undefined ? {} : { baseURL: options.baseURL }) }),

    async generate(request: ModelRequest, signal: AbortSignal): Promise<ModelResponse> {
      if (signal.aborted) throw cancellationError(signal);
      try {
        return fromAnthropicMessage(await transport.create(toAnthropicParams(modelId, request), signal));
      } catch (error) {
        throw mapProviderError(error, context(signal));
      }
    },

    async *stream(request: ModelRequest, signal: AbortSignal): AsyncGenerator<ModelStreamPart> {
      if (signal.aborted) throw cancellationError(signal);
      let events: AsyncIterable<AnthropicStreamEvent>;
      try {
        events = await transport.stream(toAnthropicParams(modelId, request), signal);
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

function anthropicTransport(options: AnthropicModelOptions, sdkClient: () => Promise<Anthropic>, timeoutMs: number): AnthropicTransport {
  if (options.client !== 'sdk') {
    const settings = anthropicDirectSettings(directInputOf(options, timeoutMs));
    if (settings !== null) return createAnthropicDirectClient(settings, options.modelId);
  }
  return {
    create: async (params: MessageCreateParamsBase, signal) => (await observingResponseHeaders(signal, async () => (await sdkClient()).messages.create({ ...params, stream: false }, { signal }))) as unknown as AnthropicMessageShape,
    stream: async (params: MessageCreateParamsBase, signal) => (await observingResponseHeaders(signal, async () => (await sdkClient()).messages.create({ ...params, stream: true }, { signal }))) as unknown as AsyncIterable<AnthropicStreamEvent>,
  };
}

/** The options the SDK client is built from, without the absent ones. */
function pickDefined(options: AnthropicModelOptions): { apiKey?: string; baseURL?: string; fetch?: typeof globalThis.fetch; headers?: Readonly<Record<string, string>> } {
  return {
    ...(options.apiKey === undefined ? {} : { apiKey: options.apiKey }),
    ...(options.baseURL === undefined ? {} : { baseURL: options.baseURL }),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    ...(options.headers === undefined ? {} : { headers: options.headers }),
  };
}

/**
 * Whether the SDK client will hold an API key or auth token, read as its constructor reads them: the key given, or
 * else ANTHROPIC_API_KEY, then ANTHROPIC_AUTH_TOKEN (trimmed, empty meaning absent).
 */
function hasSdkCredential(apiKey: string | undefined): boolean {
  if (apiKey !== undefined) return apiKey.trim() !== '';
  return (readEnvironment('ANTHROPIC_API_KEY') ?? readEnvironment('ANTHROPIC_AUTH_TOKEN')) !== undefined;
}
