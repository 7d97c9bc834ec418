import { KeelError } from '../errors/index.ts';
import type { Clock } from '../spec/clock.ts';
import type { Model, ModelRequest, ModelResponse, ModelStreamPart } from '../spec/model.ts';
import type { CachedModelResponse, ResponseCacheStore } from '../spec/response-cache.ts';
import { canonicalJson, LruCache, sha256, systemClock } from '../util/index.ts';
import type { GatewayOptions } from './gateway.ts';
import { gatewayFor } from './route-types.ts';
import type { RoutedCallOptions, RoutedCallResult, RoutedModel } from './route-types.ts';
import { routedModelMethods } from './routed-stream.ts';

/**
 * The cache key: the canonical hash of the whole request (system, messages, tools, every parameter) and of the model
 * that answers it, so a change to any of them is a miss.
 */
export function responseCacheKey(model: { readonly provider: string; readonly modelId: string }, request: ModelRequest): string {
  return sha256(canonicalJson({ v: 1, provider: model.provider, model: model.modelId, request }));
}

/** Whether a request carries content from outside: tool results (local tools and MCP servers alike). */
export function hasUntrustedContent(request: ModelRequest): boolean {
  return request.messages.some((message) => message.content.some((block) => block.type === 'tool_result'));
}

export interface MemoryResponseCacheOptions {
  /** Entries kept at most; the least recently used goes first. Defaults to 1,000. */
  readonly maxEntries?: number;
  readonly clock?: Pick<Clock, 'now'>;
}

/**
 * The response cache in this process's memory.
 * @example
 * ```ts
 * const planner = withResponseCache(model, { store: createMemoryResponseCache({ maxEntries: 500 }), ttlMs: 600_000 });
 * ```
 */
export function createMemoryResponseCache(options: MemoryResponseCacheOptions = {}): ResponseCacheStore {
  const clock = options.clock ?? systemClock;
  const entries = new LruCache<{ value: CachedModelResponse; expiresAt: number }>(options.maxEntries ?? 1_000);
  return {
    async get(key) {
      const entry = entries.get(key);
      return entry === undefined || entry.expiresAt <= clock.now() ? undefined : entry.value;
    },
    async set(key, value, ttlMs) {
      entries.set(key, { value, expiresAt: clock.now() + ttlMs });
    },
  };
}

export interface ResponseCacheOptions {
  readonly store: ResponseCacheStore;
  /** How long an answer is reused. Defaults to one hour. */
  readonly ttlMs?: number;
  readonly clock?: Clock;
  /** Options of the gateway a plain Model is wrapped in (a routed model is used as it is). */
  readonly gateway?: GatewayOptions;
}

const zeroUsage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };

/**
 * A response cache in front of a model or route. Off for each call unless the call opts in (`hints.responseCache`,
 * from the agent or the run): `trusted` reuses answers only for requests without untrusted content (tool or MCP
 * results, retrieved memory), since a cached answer to an injected instruction would be replayed to every later
 * caller; `always` includes them. A hit costs nothing and is journaled with its key; errors and cut streams are
 * never stored.
 * @example
 * ```ts
 * const planner = withResponseCache(createAnthropicModel({ modelId: 'claude-haiku-4-5' }), { store: createMemoryResponseCache() });
 * const keel = createKeel({ models: { planner } });
 * keel.run(defineAgent({ ..., model: 'planner', modelSettings: { responseCache: 'trusted' } }), 'Plan the migration.');
 * ```
 */
export function withResponseCache(model: Model, options: ResponseCacheOptions): RoutedModel {
  const inner = gatewayFor(model, options.gateway ?? {});
  const ttlMs = options.ttlMs ?? 3_600_000;
  if (!(ttlMs > 0) || !Number.isFinite(ttlMs)) throw new KeelError('invalid-config', `Response cache ttlMs must be a positive number of milliseconds, got ${ttlMs}.`);
  const clock = options.clock ?? systemClock;

  async function call(request: ModelRequest, callOptions: RoutedCallOptions): Promise<RoutedCallResult> {
    const mode = callOptions.hints?.responseCache ?? 'off';
    const untrusted = callOptions.hints?.untrustedContent === true || hasUntrustedContent(request);
    if (mode === 'off' || (mode === 'trusted' && untrusted)) return inner.call(request, callOptions);
    const started = clock.monotonic();
    const key = responseCacheKey(inner, request);
    const cached = await options.store.get(key);
    if (cached !== undefined) {
      if (callOptions.streaming) replayParts(cached.response, callOptions.onPart);
      return {
        // Nothing was billed for this answer; the journal names the key it came from.
        response: { ...cached.response, usage: zeroUsage },
        retries: 0,
        latencyMs: Math.round(clock.monotonic() - started),
        cachedResponse: { key },
        ...(cached.account === undefined ? {} : { account: cached.account }),
      };
    }
    const result: RoutedCallResult = await inner.call(request, callOptions);
    await options.store.set(key, { response: result.response, ...(result.account === undefined ? {} : { account: result.account }), storedAt: clock.now() }, ttlMs);
    return result;
  }

  return {
    ...routedModelMethods({ provider: inner.provider, modelId: inner.modelId, call, ...(inner.countTokens === undefined ? {} : { countTokens: inner.countTokens }) }),
    withGateway: (extra) => withResponseCache(model, { ...options, gateway: { ...options.gateway, ...extra } }),
  };
}

/** A cached answer streams as its text, then its finish part, for live displays. */
function replayParts(response: ModelResponse, onPart: ((part: ModelStreamPart, attempt: number) => void) | undefined): void {
  if (onPart === undefined) return;
  for (const block of response.content) if (block.type === 'text' && block.text !== '') onPart({ type: 'text-delta', text: block.text }, 0);
  onPart({ type: 'finish', response }, 0);
}
