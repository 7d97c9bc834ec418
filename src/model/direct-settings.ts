import { KeelError } from '../errors/index.ts';

/** What a direct client needs to reach a provider, resolved once when its model is built. */
export interface DirectSettings {
  readonly url: URL;
  /** Lower-case names, in the SDK's order of precedence. */
  readonly headers: Readonly<Record<string, string>>;
  readonly fetch: typeof globalThis.fetch | undefined;
  readonly timeoutMs: number;
  readonly streamIdleTimeoutMs: number;
  readonly maxResponseBytes: number;
}

/** Which client sends a model's requests: Keel's own on node:http (the default) or the provider's official SDK. */
export type ModelClientKind = 'direct' | 'sdk';

/** Options both direct clients take beside the SDKs' own. */
export interface DirectClientOptions {
  /**
   * `direct` (the default) sends requests with Keel's own client for the provider's wire format, on node:http
   * keep-alive connections; `sdk` sends them through the official SDK. Both map failures to the same errors.
   */
  readonly client?: ModelClientKind;
  /** Direct client: how long a stream may send nothing at all before it is abandoned (`model-stream-cut`). Defaults to `timeoutMs`. */
  readonly streamIdleTimeoutMs?: number;
  /** Direct client: the largest response body, and the largest single streamed event, read. Defaults to 64 MiB. */
  readonly maxResponseBytes?: number;
}

export const defaultMaxResponseBytes = 64 * 1024 * 1024;

/** What both providers' direct settings are built from: the model's options, limits resolved. */
export interface DirectInput {
  readonly apiKey: string | undefined;
  readonly baseURL: string | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;
  readonly fetch: typeof globalThis.fetch | undefined;
  readonly timeoutMs: number;
  readonly streamIdleTimeoutMs: number;
  readonly maxResponseBytes: number;
}

/** The options of a provider's model that the direct client reads. */
export interface DirectModelOptions extends DirectClientOptions {
  readonly apiKey?: string;
  readonly baseURL?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly fetch?: typeof globalThis.fetch;
}

/** A model's options as a direct client's input; the stream idle limit defaults to the call's timeout. */
export function directInputOf(options: DirectModelOptions, timeoutMs: number): DirectInput {
  return {
    apiKey: options.apiKey,
    baseURL: options.baseURL,
    headers: options.headers,
    fetch: options.fetch,
    timeoutMs,
    streamIdleTimeoutMs: positiveOption('streamIdleTimeoutMs', options.streamIdleTimeoutMs, timeoutMs),
    maxResponseBytes: positiveOption('maxResponseBytes', options.maxResponseBytes, defaultMaxResponseBytes),
  };
}

/** The identification the direct clients send, in place of the SDKs' own. */
export const directUserAgent = `keel (node ${process.versions.node})`;

/** An environment variable as the SDKs read it: trimmed, and absent when empty. */
export function readEnvironment(name: string): string | undefined {
  const value = process.env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** The SDKs' join of base URL and path: exactly one slash between them. */
export function endpointUrl(baseURL: string, path: string): URL {
  return new URL(baseURL + (baseURL.endsWith('/') && path.startsWith('/') ? path.slice(1) : path));
}

/** Merges header layers as the SDKs do: names case-insensitively, later layers win. */
export function mergeHeaders(...layers: readonly (Readonly<Record<string, string>> | undefined)[]): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const layer of layers) {
    if (layer === undefined) continue;
    for (const [name, value] of Object.entries(layer)) merged[name.toLowerCase()] = value;
  }
  return merged;
}

/** A limit given in the options, or its default; anything but a positive finite number is refused. */
export function positiveOption(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new KeelError('invalid-config', `The model option ${name} must be a positive number, got ${String(value)}.`, { details: { option: name } });
  return value;
}
