import type { MessageCreateParamsBase } from '@anthropic-ai/sdk/resources/messages';
import { finalEvent, openEventStream, postJson } from './direct-client.ts';
import type { DirectCallOptions, FinalEvent, WireErrorFactory } from './direct-client.ts';
import type { WireRequest } from './direct-transport.ts';
import { directUserAgent, endpointUrl, mergeHeaders, readEnvironment } from './direct-settings.ts';
import type { DirectInput, DirectSettings } from './direct-settings.ts';
import type { AnthropicMessageShape } from './anthropic-response.ts';
import type { AnthropicStreamEvent } from './anthropic-stream.ts';
import { anthropicApiError, ProviderConnectionError, ProviderTimeoutError } from './provider-failures.ts';
import type { ServerSentEvent } from './sse-decoder.ts';

/** The Messages API version the SDK in use speaks; the direct client sends the same one. */
export const anthropicApiVersion = '2026-10-21';

export interface AnthropicDirectClient {
  create(params: MessageCreateParamsBase, signal: AbortSignal): Promise<AnthropicMessageShape>;
  stream(params: MessageCreateParamsBase, signal: AbortSignal): Promise<AsyncIterable<AnthropicStreamEvent>>;
}

/**
 * The settings of a direct client, or null when the credentials are not a plain key or token (none given, or only
 * the SDK's own credential chain could find them): such a model keeps the SDK, which resolves them or says what is
 * missing.
 */
export function anthropicDirectSettings(input: DirectInput): DirectSettings | null {
  const credential = input.apiKey ?? readEnvironment('ANTHROPIC_API_KEY') ?? readEnvironment('ANTHROPIC_AUTH_TOKEN');
  if (credential === undefined || credential === '') return null;
  const headers = mergeHeaders(
    { accept: 'application/json', 'user-agent': directUserAgent, 'anthropic-version': anthropicApiVersion },
    { authorization: `Bearer ${credential}` },
    customHeadersFromEnvironment(),
    input.headers,
    { 'content-type': 'application/json' },
  );
  return {
    url: endpointUrl(input.baseURL ?? readEnvironment('ANTHROPIC_BASE_URL') ?? 'https://api.anthropic.com', '/v1/messages'),
    headers,
    fetch: input.fetch,
    timeoutMs: input.timeoutMs,
    streamIdleTimeoutMs: input.streamIdleTimeoutMs,
    maxResponseBytes: input.maxResponseBytes,
  };
}

/** `ANTHROPIC_CUSTOM_HEADERS`, one `Name: value` a line, which the SDK adds under the configured headers. */
function customHeadersFromEnvironment(): Record<string, string> | undefined {
  const text = readEnvironment('ANTHROPIC_CUSTOM_HEADERS');
  if (text === undefined) return undefined;
  const headers: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon >= 0) headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

const anthropicErrors: WireErrorFactory = {
  connection: (cause) => new ProviderConnectionError({ cause }),
  timeout: () => new ProviderTimeoutError(),
  status: (status, json, text, headers) => anthropicApiError(status, json, text, headers),
};

/** The Messages API over Keel's direct transport, raising errors with the fields of the SDK's. */
export function createAnthropicDirectClient(settings: DirectSettings, modelId: string): AnthropicDirectClient {
  const request = (params: MessageCreateParamsBase, stream: boolean): WireRequest => ({ url: settings.url, headers: settings.headers, body: JSON.stringify({ ...params, stream }), fetch: settings.fetch });
  const call = (signal: AbortSignal): DirectCallOptions => ({
    signal,
    timeoutMs: settings.timeoutMs,
    streamIdleTimeoutMs: settings.streamIdleTimeoutMs,
    maxResponseBytes: settings.maxResponseBytes,
    errors: anthropicErrors,
    label: `Anthropic (${modelId})`,
  });
  return {
    // Not async: a suspended call would hold `params`, the whole conversation as wire messages, until the answer.
    create: (params, signal) => postJson(request(params, false), call(signal)) as Promise<unknown> as Promise<AnthropicMessageShape>,
    stream: (params, signal) => openEventStream(request(params, true), call(signal), anthropicEvent),
  };
}

/** One server-sent event as the SDK's stream yields it: pings and unnamed events skipped, `error` raised. */
function anthropicEvent(event: ServerSentEvent, headers: () => Headers): AnthropicStreamEvent | FinalEvent<AnthropicStreamEvent> | undefined {
  if (event.event === null || event.event === 'ping') return undefined;
  if (event.event === 'error') {
    const body = parseOrText(event.data);
    const type = typeof body === 'object' && body !== null ? (body as { error?: { type?: unknown } }).error?.type : undefined;
    throw anthropicApiError(undefined, body, undefined, headers(), typeof type === 'string' ? type : undefined);
  }
  if (event.data === '') return undefined;
  // A SyntaxError here maps to model-malformed-response, as in the SDK.
  const parsed = JSON.parse(event.data) as AnthropicStreamEvent;
  // message_stop ends the stream: it is passed on once the body has ended, so the connection is kept for reuse.
  return parsed.type === 'message_stop' ? finalEvent(parsed) : parsed;
}

function parseOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
