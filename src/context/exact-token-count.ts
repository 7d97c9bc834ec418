import { createHash } from 'node:crypto';
import { KeelError, toKeelError } from '../errors/index.ts';
import type { ExactTokenCounter, ModelRequest } from '../spec/model.ts';
import { LruCache, canonicalJson, linkedSignal } from '../util/index.ts';
import type { ContextPlan, ExplainPlan } from './plan-context.ts';

/**
 * How the input of one request was counted for its fit check, journaled with the context plan.
 *
 * - `exact`: the provider counted this very request (Anthropic's count-tokens endpoint), now or earlier in this process.
 * - `estimate`: the local tokenizer estimate of the planner (o200k, times 1.3 for Claude; see token-counter.ts for its
 *   stated error). Used when the model has no exact counter, or when asking it failed (`fallbackReason` says why).
 */
export interface InputCount {
  readonly method: 'exact' | 'estimate';
  /** The figure the fit check used: the exact count when there is one, else the estimate. */
  readonly tokens: number;
  /** The planner's estimate of the same request, kept beside an exact count so the estimate's error can be read off the journal. */
  readonly estimateTokens: number;
  readonly source: 'count-tokens-endpoint' | 'count-cache' | 'local-estimate';
  /** SHA-256 of the counted fields (provider, model, system, tools, tool choice, messages): the cache key. */
  readonly countKey?: string;
  /** Why an exact count was wanted and not used; absent when none was wanted or it was used. */
  readonly fallbackReason?: string;
  /** How long the endpoint took, when it was asked. */
  readonly latencyMs?: number;
}

/** The explain plan as journaled (`planHash`), with how its input was counted. */
export type CountedExplainPlan = ExplainPlan & { readonly inputCount: InputCount };

/** Longest wait for the endpoint before the turn goes on with the estimate: a slow count must not stall the turn. */
export const defaultExactCountTimeoutMs = 10_000;

/** The model's exact counter when it offers one (duck-typed, since the loop's model caller is not a spec `Model`). */
export function exactTokenCounterOf(model: unknown): ExactTokenCounter | null {
  if (typeof model !== 'object' || model === null) return null;
  const countTokens = (model as Partial<ExactTokenCounter>).countTokens;
  return typeof countTokens === 'function' ? { countTokens: (request, signal) => countTokens.call(model, request, signal) } : null;
}

/**
 * The cache key of a request's count: a SHA-256 over exactly what the provider counts. Output settings
 * (`maxOutputTokens`, `stopSequences`, `temperature`) do not change the input count and are left out, so a turn
 * replanned with another output budget still hits.
 */
export function countKeyOf(model: { readonly provider: string; readonly modelId: string }, request: ModelRequest): string {
  const counted = { provider: model.provider, modelId: model.modelId, system: request.system ?? '', tools: request.tools, toolChoice: request.toolChoice ?? null, messages: request.messages };
  return createHash('sha256').update(canonicalJson(counted)).digest('hex');
}

/** A bounded LRU of exact counts by content hash: the same request content is never counted twice in a process. */
export class ExactCountCache extends LruCache<number> {
  constructor(capacity = 1024) {
    super(capacity);
  }
}

export const processExactCountCache = new ExactCountCache();

export interface CountInputOptions {
  readonly model: { readonly provider: string; readonly modelId: string };
  readonly request: ModelRequest;
  /** The planner's estimate of `request`. */
  readonly estimateTokens: number;
  /** Null when the model cannot count exactly: the estimate is used, and no reason is given since none is needed. */
  readonly counter: ExactTokenCounter | null;
  /** The turn's signal: its abort cancels the turn, which is not a counting failure. */
  readonly signal: AbortSignal;
  readonly timeoutMs?: number;
  readonly cache?: ExactCountCache;
  readonly monotonic?: () => number;
}

/**
 * Counts a request's input: exactly when the model can (from the cache when this content was counted before),
 * else by the estimate. Counting never fails the turn: an endpoint error or timeout falls back to the estimate,
 * with the reason. Only the caller's own abort is thrown, as the cancellation it is.
 */
export async function countRequestInput(options: CountInputOptions): Promise<InputCount> {
  const { counter, estimateTokens } = options;
  if (counter === null) return { method: 'estimate', tokens: estimateTokens, estimateTokens, source: 'local-estimate' };
  const cache = options.cache ?? processExactCountCache;
  const countKey = countKeyOf(options.model, options.request);
  const cached = cache.get(countKey);
  if (cached !== undefined) return { method: 'exact', tokens: cached, estimateTokens, source: 'count-cache', countKey };

  const timeoutMs = options.timeoutMs ?? defaultExactCountTimeoutMs;
  const monotonic = options.monotonic ?? (() => performance.now());
  let timedOut = false;
  // A plain linked signal, released below: the SDK never removes its abort listener, and a combined signal
  // (AbortSignal.any) with a listener is kept alive by Node for good.
  const linked = linkedSignal([options.signal], timeoutMs, () => {
    timedOut = true;
    return new KeelError('model-timeout', `The count-tokens endpoint did not answer within ${timeoutMs} ms.`);
  });
  const started = monotonic();
  const latency = (): number => Math.round((monotonic() - started) * 1000) / 1000;
  try {
    const tokens = await counter.countTokens(options.request, linked.signal);
    cache.set(countKey, tokens);
    return { method: 'exact', tokens, estimateTokens, source: 'count-tokens-endpoint', countKey, latencyMs: latency() };
  } catch (thrown) {
    if (options.signal.aborted) {
      throw thrown instanceof KeelError && thrown.code === 'cancelled' ? thrown : new KeelError('cancelled', 'The turn was cancelled while its input tokens were being counted.', { cause: options.signal.reason });
    }
    const error = toKeelError(thrown);
    const fallbackReason = timedOut
      ? `the count-tokens endpoint did not answer within ${timeoutMs} ms; the estimate was used`
      : `the count-tokens endpoint failed (${error.code}: ${error.message}); the estimate was used`;
    return { method: 'estimate', tokens: estimateTokens, estimateTokens, source: 'local-estimate', countKey, fallbackReason, latencyMs: latency() };
  } finally {
    linked.dispose();
  }
}

/**
 * The fit check on an exact count: a request the provider would refuse as too long is this typed error, raised
 * before the model is called, never the provider's 400. Estimates were already checked by the planner.
 */
export function checkExactFits(count: InputCount, windowTokens: number, reservedOutputTokens: number): void {
  if (count.method !== 'exact') return;
  const needed = count.tokens + reservedOutputTokens;
  if (needed <= windowTokens) return;
  throw new KeelError(
    'model-context-window',
    `The request needs ${count.tokens} input tokens (counted exactly by the provider; the planner estimated ${count.estimateTokens}) plus ${reservedOutputTokens} reserved for output = ${needed}, over the model's context window of ${windowTokens} tokens by ${needed - windowTokens}. Shorten the system prompt, tools or the newest message, or lower maxOutputTokensPerCall.`,
    { details: { requestTokens: count.tokens, estimateTokens: count.estimateTokens, reservedOutputTokens, windowTokens, counting: 'exact' } },
  );
}

/**
 * The planned request counted and checked: the exact count where the model offers one (else the planner's estimate,
 * which the planner has already checked), and the explain plan to journal with the count in it.
 */
export async function countPlannedRequest(
  plan: ContextPlan,
  options: Omit<CountInputOptions, 'request' | 'estimateTokens'>,
): Promise<{ readonly count: InputCount; readonly explain: CountedExplainPlan; readonly utilization: number }> {
  const count = await countRequestInput({ ...options, request: plan.request, estimateTokens: plan.tokens.total });
  checkExactFits(count, plan.windowTokens, plan.reservedOutputTokens);
  const utilization = count.method === 'exact' ? count.tokens / plan.windowTokens : plan.utilization;
  return { count, explain: { ...plan.explain, inputCount: count }, utilization };
}
