import type OpenAI from 'openai';
import { KeelError } from '../errors/index.ts';
import type { KeelCode } from '../errors/index.ts';
import type { Embedder } from './memory-types.ts';
import { checkPositiveInteger } from './vector-math.ts';

export interface OpenAIEmbedderOptions {
  /** `text-embedding-3-small`, or any model an OpenAI-compatible server serves (Ollama: `nomic-embed-text`). */
  readonly model: string;
  /** Defaults to the `OPENAI_API_KEY` environment variable; not needed with a `baseURL` that does not check keys (Ollama). */
  readonly apiKey?: string;
  /** For OpenAI-compatible servers, e.g. `http://localhost:11434/v1` for Ollama. */
  readonly baseURL?: string;
  /** Required for models other than OpenAI's; for `text-embedding-3-*` it is also sent to shorten the vectors. */
  readonly dimensions?: number;
  readonly fetch?: typeof fetch;
  /** Texts per request. Defaults to 256 (OpenAI accepts up to 2,048). */
  readonly batchSize?: number;
  /** Retries of the SDK on 408/429/5xx and connection errors. Defaults to 2. */
  readonly maxRetries?: number;
}

const knownDimensions: Readonly<Record<string, number>> = {
  'text-embedding-3-small': 1536,
  'text-embedding-3-large': 3072,
  'text-embedding-ada-002': 1536,
};

/** Embeddings through the official `openai` SDK: OpenAI itself or any server with an OpenAI-compatible `/v1/embeddings`. */
export function createOpenAIEmbedder(options: OpenAIEmbedderOptions): Embedder {
  const { model } = options;
  const dimensions = options.dimensions ?? knownDimensions[model];
  if (dimensions === undefined) {
    throw new KeelError('invalid-config', `Embedding model "${model}" is not one whose size Keel knows; pass \`dimensions\`.`);
  }
  checkPositiveInteger(dimensions, 'dimensions', 'invalid-config');
  const batchSize = options.batchSize ?? 256;
  checkPositiveInteger(batchSize, 'batchSize', 'invalid-config');
  const apiKey = options.apiKey ?? process.env.OPENAI_API_KEY ?? (options.baseURL === undefined ? undefined : 'not-needed');
  if (apiKey === undefined) {
    throw new KeelError('missing-credentials', 'The OpenAI embedder needs an API key: pass `apiKey` or set OPENAI_API_KEY.');
  }
  // The SDK is loaded with the first embedding, not with `import 'keel'`: most processes never embed through it.
  let loaded: Promise<LoadedSdk> | undefined;
  const sdk = (): Promise<LoadedSdk> =>
    (loaded ??= import('openai').then(({ default: Sdk }) => ({
      Sdk,
      client: new Sdk({
        apiKey,
        ...(options.baseURL === undefined ? {} : { baseURL: options.baseURL }),
        ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
        maxRetries: options.maxRetries ?? 2,
      }),
    })));
  const sendDimensions = options.dimensions !== undefined && model.startsWith('text-embedding-3');

  return {
    id: `openai:${model}@${dimensions}`,
    dimensions,
    async embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
      const { Sdk, client } = await sdk();
      const vectors: Float32Array[] = [];
      for (let start = 0; start < texts.length; start += batchSize) {
        const batch = texts.slice(start, start + batchSize);
        let response: OpenAI.Embeddings.CreateEmbeddingResponse;
        try {
          response = await client.embeddings.create(
            { model, input: batch.map((text) => (text === '' ? ' ' : text)), encoding_format: 'float', ...(sendDimensions ? { dimensions } : {}) },
            signal === undefined ? {} : { signal },
          );
        } catch (error) {
          throw toEmbeddingError(error, { Sdk, model });
        }
        const data = [...response.data].sort((a, b) => a.index - b.index);
        if (data.length !== batch.length) {
          throw new KeelError('model-malformed-response', `The embeddings API returned ${data.length} vectors for ${batch.length} texts.`);
        }
        for (const entry of data) {
          if (!Array.isArray(entry.embedding) || entry.embedding.length !== dimensions) {
            throw new KeelError('model-malformed-response', `The embeddings API returned a vector of ${entry.embedding?.length} dimensions; expected ${dimensions}.`, {
              details: { model, expected: dimensions },
            });
          }
          vectors.push(Float32Array.from(entry.embedding));
        }
      }
      return vectors;
    },
  };
}

interface LoadedSdk {
  readonly Sdk: typeof OpenAI;
  readonly client: OpenAI;
}

function toEmbeddingError(error: unknown, { Sdk, model }: { readonly Sdk: typeof OpenAI; readonly model: string }): KeelError {
  if (error instanceof KeelError) return error;
  if (error instanceof Sdk.APIUserAbortError) return new KeelError('cancelled', 'The embedding request was cancelled.', { cause: error });
  if (error instanceof Sdk.APIConnectionTimeoutError) return new KeelError('model-timeout', `The embeddings API timed out: ${error.message}`, { cause: error });
  if (error instanceof Sdk.APIConnectionError) return new KeelError('model-connection', `Could not reach the embeddings API: ${error.message}`, { cause: error });
  if (error instanceof Sdk.APIError) {
    const status = error.status ?? 0;
    const code: KeelCode =
      status === 401 ? 'model-authentication'
      : status === 403 ? 'model-permission'
      : status === 404 ? 'model-not-found'
      : status === 429 ? 'model-rate-limited'
      : status >= 500 ? 'model-server-error'
      : 'model-bad-request';
    return new KeelError(code, `The embeddings API answered ${status} for model ${model}: ${error.message}`, { cause: error, details: { status, model } });
  }
  return new KeelError('internal', `Embedding failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}
