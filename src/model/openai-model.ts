import { KeelError } from '../errors/index.ts';
import type { Model, ModelRequest, ModelResponse, ModelStreamPart } from '../spec/model.ts';
import { directInputOf, positiveOption, readEnvironment } from './direct-settings.ts';
import type { DirectClientOptions } from './direct-settings.ts';
import { createOpenAIDirectClient, openAIDirectSettings } from './openai-direct.ts';
import type { OpenAIDirectClient } from './openai-direct.ts';
import { toOpenAIParams } from './openai-request.ts';
import { fromOpenAICompletion } from './openai-response.ts';
import type { OpenAISdkOptions, OpenAITransport } from './openai-sdk.ts';
import { assembleOpenAIStream } from './openai-stream.ts';
import type { OpenAIChunkShape } from './openai-stream.ts';
import { cancellationError, mapProviderError, mapStreamError } from './provider-errors.ts';
import type { ProviderErrorContext } from './provider-errors.ts';

export type OpenAIProviderName = 'openai' | 'openai-compatible';

export interface OpenAIModelOptions extends DirectClientOptions {
  readonly modelId: string;
  /** Defaults to OPENAI_API_KEY. */
  readonly apiKey?: string;
  /** Defaults to OPENAI_BASE_URL, then the public API. An Ollama or vLLM server ends in `/v1`. */
  readonly baseURL?: string;
  /**
   * The HTTP transport. Defaults to Keel's keep-alive transport on node:http (`sharedNodeHttpFetch`), which costs
   * less CPU per call than undici; pass `globalThis.fetch` for the usual one.
   */
  readonly fetch?: typeof globalThis.fetch;
  readonly headers?: Readonly<Record<string, string>>;
  /** `openai-compatible` for any other server speaking Chat Completions. Defaults to `openai`. */
  readonly provider?: OpenAIProviderName;
  /** Time to wait for the response headers of one attempt (and the whole body of a plain response). Defaults to 10 minutes. */
  readonly timeoutMs?: number;
}

const defaultTimeoutMs = 600_000;

/**
 * Chat Completions, sent by Keel's direct client on node:http (or, with `client: 'sdk'`, by the official SDK), with
 * no retries of its own: the gateway owns retrying.
 * @example
 * ```ts
 * // Ollama (like vLLM) speaks Chat Completions under /v1.
 * const model = createOpenAIModel({ modelId: 'llama3.1', provider: 'openai-compatible', baseURL: 'http://localhost:11434/v1', apiKey: 'ollama' });
 * const keel = createKeel({ models: { local: model }, model: 'local' });
 * ```
 */
export function createOpenAIModel(options: OpenAIModelOptions): Model {
  const provider = options.provider ?? 'openai';
  const modelId = options.modelId;
  const transport = openAITransport(options, provider);
  const context = (signal: AbortSignal): ProviderErrorContext => ({
    provider,
    modelId,
    signal,
    ...(options.baseURL === undefined ? {} : { baseURL: options.baseURL }),
  });

  return {
    provider,
    modelId,

    async generate(request: ModelRequest, signal: AbortSignal): Promise<ModelResponse> {
      if (signal.aborted) throw cancellationError(signal);
      try {
        return fromOpenAICompletion(await transport.create(Object.assign(toOpenAIParams(modelId, request, provider), { stream: false }), signal));
      } catch (error) {
        throw mapProviderError(error, context(signal));
      }
    },

    async *stream(request: ModelRequest, signal: AbortSignal): AsyncGenerator<ModelStreamPart> {
      if (signal.aborted) throw cancellationError(signal);
      let chunks: AsyncIterable<OpenAIChunkShape>;
      try {
        chunks = await transport.stream(Object.assign(toOpenAIParams(modelId, request, provider), { stream: true, stream_options: { include_usage: true } }), signal);
      } catch (error) {
        throw mapProviderError(error, context(signal));
      }
      try {
        for await (const part of assembleOpenAIStream(chunks, { modelId, provider, requireUsage: provider === 'openai' })) {
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

function openAITransport(options: OpenAIModelOptions, provider: OpenAIProviderName): OpenAITransport {
  const timeoutMs = positiveOption('timeoutMs', options.timeoutMs, defaultTimeoutMs);
  if (options.client !== 'sdk') {
    const settings = openAIDirectSettings(directInputOf(options, timeoutMs));
    if (settings !== null) return createOpenAIDirectClient(settings, `${provider === 'openai' ? 'OpenAI' : 'The OpenAI-compatible server'} (${options.modelId})`) satisfies OpenAIDirectClient;
  }
  return sdkTransport(options, timeoutMs);
}

/**
 * The SDK path: the key is checked here, when the model is built, as the SDK's constructor checks it; the SDK itself
 * is loaded, and its client built, on the first call.
 */
function sdkTransport(options: OpenAIModelOptions, timeoutMs: number): OpenAITransport {
  const apiKey = options.apiKey ?? readEnvironment('OPENAI_API_KEY');
  if (apiKey === undefined) {
    throw new KeelError('missing-credentials', 'OpenAI needs an API key: set OPENAI_API_KEY, or choose another model with --model. (Missing credentials. Please pass an `apiKey`, or set the `OPENAI_API_KEY` environment variable.)');
  }
  const baseURL = options.baseURL ?? readEnvironment('OPENAI_BASE_URL');
  const sdkOptions: OpenAISdkOptions = {
    apiKey,
    timeoutMs,
    ...(baseURL === undefined ? {} : { baseURL }),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    ...(options.headers === undefined ? {} : { headers: options.headers }),
  };
  let loaded: Promise<OpenAITransport> | undefined;
  const transport = (): Promise<OpenAITransport> => {
    loaded ??= import('./openai-sdk.ts').then(
      (sdk) => sdk.createOpenAISdkTransport(sdkOptions),
      (error: unknown) => {
        loaded = undefined;
        throw error;
      },
    );
    return loaded;
  };
  return {
    create: async (params, signal) => (await transport()).create(params, signal),
    stream: async (params, signal) => (await transport()).stream(params, signal),
  };
}
