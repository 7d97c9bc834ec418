import type { ChatCompletionCreateParamsBase } from 'openai/resources/chat/completions';
import { openEventStream, postJson, streamEnd } from './direct-client.ts';
import type { DirectCallOptions, WireErrorFactory } from './direct-client.ts';
import type { WireRequest } from './direct-transport.ts';
import { directUserAgent, endpointUrl, mergeHeaders, readEnvironment } from './direct-settings.ts';
import type { DirectInput, DirectSettings } from './direct-settings.ts';
import type { OpenAICompletionShape } from './openai-response.ts';
import type { OpenAIChunkShape } from './openai-stream.ts';
import { openAIApiError, openAIErrorObject, ProviderConnectionError, ProviderTimeoutError } from './provider-failures.ts';
import type { ServerSentEvent } from './sse-decoder.ts';

export interface OpenAIDirectClient {
  create(params: ChatCompletionCreateParamsBase, signal: AbortSignal): Promise<OpenAICompletionShape>;
  stream(params: ChatCompletionCreateParamsBase, signal: AbortSignal): Promise<AsyncIterable<OpenAIChunkShape>>;
}

/** The settings of a direct client, or null without an API key (the SDK then refuses to build, naming the variable). */
export function openAIDirectSettings(input: DirectInput): DirectSettings | null {
  const apiKey = input.apiKey ?? readEnvironment('OPENAI_API_KEY');
  if (apiKey === undefined) return null;
  const organization = readEnvironment('OPENAI_ORG_ID');
  const project = readEnvironment('OPENAI_PROJECT_ID');
  const headers = mergeHeaders(
    {
      accept: 'application/json',
      'user-agent': directUserAgent,
      ...(organization === undefined ? {} : { 'openai-organization': organization }),
      ...(project === undefined ? {} : { 'openai-project': project }),
    },
    { authorization: `Bearer ${apiKey}` },
    input.headers,
    { 'content-type': 'application/json' },
  );
  return {
    url: endpointUrl(input.baseURL ?? readEnvironment('OPENAI_BASE_URL') ?? 'https://api.openai.com/v1', '/chat/completions'),
    headers,
    fetch: input.fetch,
    timeoutMs: input.timeoutMs,
    streamIdleTimeoutMs: input.streamIdleTimeoutMs,
    maxResponseBytes: input.maxResponseBytes,
  };
}

const openAIErrors: WireErrorFactory = {
  connection: (cause) => new ProviderConnectionError({ cause }),
  timeout: () => new ProviderTimeoutError(),
  status: (status, json, text, headers) => openAIApiError(status, openAIErrorObject(json), text, headers),
};

/** Chat Completions over Keel's direct transport, raising errors with the fields of the SDK's. */
export function createOpenAIDirectClient(settings: DirectSettings, label: string): OpenAIDirectClient {
  const request = (params: ChatCompletionCreateParamsBase): WireRequest => ({ url: settings.url, headers: settings.headers, body: JSON.stringify(params), fetch: settings.fetch });
  const call = (signal: AbortSignal): DirectCallOptions => ({
    signal,
    timeoutMs: settings.timeoutMs,
    streamIdleTimeoutMs: settings.streamIdleTimeoutMs,
    maxResponseBytes: settings.maxResponseBytes,
    errors: openAIErrors,
    label,
  });
  return {
    // Not async: a suspended call would hold `params`, the whole conversation as wire messages, until the answer.
    create: (params, signal) => postJson(request(params), call(signal)) as Promise<unknown> as Promise<OpenAICompletionShape>,
    stream: (params, signal) => openEventStream(request(params), call(signal), openAIEventDecoder()),
  };
}

/**
 * The SDK's reading of a Chat Completions stream, `{"error": …}` raised, except that `[DONE]` ends it at once: a proxy
 * that keeps the body open after it (keep-alive comments) cannot hold the answer back.
 */
function openAIEventDecoder(): (event: ServerSentEvent, headers: () => Headers) => OpenAIChunkShape | typeof streamEnd {
  return (event, headers) => {
    if (event.data.startsWith('[DONE]')) return streamEnd;
    // A SyntaxError here maps to model-malformed-response, as in the SDK.
    const data = JSON.parse(event.data) as { error?: unknown } | null;
    if (data !== null && typeof data === 'object' && Boolean(data.error)) {
      throw openAIApiError(undefined, data.error, undefined, headers());
    }
    return data as OpenAIChunkShape;
  };
}
