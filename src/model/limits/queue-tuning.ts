import type { LimitCost, LimitDimension } from '../../spec/provider-limits.ts';

/** Constants both stores share (the Redis scripts receive them as arguments). */
export const queueTuning = {
  /** A waiter that has not asked for this long is gone (its process crashed): it leaves the queue. */
  staleAfterMs: 15_000,
  /** Waiters ask again at least this often, so a live waiter is never taken for a stale one. */
  maxPollMs: 2_000,
  /** How many heads of the queue one acquire may grant: bounds the work of one atomic step. */
  grantsPerCall: 64,
  /**
   * A call taken from a full bucket holds the bucket's refill until some call settles or is observed, at most this
   * long (in case its process died in between). The provider's bucket is full too and refills nothing until that call
   * reaches it. Counting refill from the grant credits refill the provider never gives, for as long as the call takes
   * from the queue to the provider (a cold process's first call: hundreds of ms, several requests at 540 a minute),
   * and a burst that drains the bucket then overruns the provider's by that much.
   */
  maxRefillHoldMs: 10_000,
} as const;

export interface BucketView {
  tokens: number;
  readonly capacity: number;
}

export interface WaitEstimateInput {
  readonly views: ReadonlyMap<LimitDimension, BucketView>;
  /** The summed cost of the waiters ahead. */
  readonly ahead: LimitCost;
  readonly own: LimitCost;
  readonly blockedForMs: number;
}

/**
 * How long until the buckets have refilled enough for everyone ahead and this call: the slowest dimension decides.
 * At least 1 ms, so that a caller always sleeps before asking again.
 */
export function waitEstimate(input: WaitEstimateInput): number {
  let wait = Math.max(0, input.blockedForMs);
  for (const [dimension, view] of input.views) {
    const needed = input.ahead[dimension] + Math.min(input.own[dimension], view.capacity) - view.tokens;
    if (needed > 0) wait = Math.max(wait, (needed * 60_000) / view.capacity);
  }
  return Math.max(1, Math.ceil(wait));
}

export function zeroCost(): LimitCost {
  return { requests: 0, inputTokens: 0, outputTokens: 0, tokens: 0 };
}

export function costOf(parts: { readonly requests: number; readonly inputTokens: number; readonly outputTokens: number }): LimitCost {
  return { requests: parts.requests, inputTokens: parts.inputTokens, outputTokens: parts.outputTokens, tokens: parts.inputTokens + parts.outputTokens };
}
