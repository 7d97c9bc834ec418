// The rate-limit store port: where the tool pipeline's token buckets live. The in-process implementation is
// src/tools/stages/memory-rate-limit-store.ts; processes that must share limits plug in a shared one (e.g. Redis).

/** Up to `capacity` calls at once, then `refillPerSecond` more each second. */
export interface TokenBucketLimit {
  readonly capacity: number;
  readonly refillPerSecond: number;
}

export interface RateLimitBucket {
  /** Names the bucket; a bucket is created full the first time its key is seen. */
  readonly key: string;
  readonly limit: TokenBucketLimit;
}

export interface RateLimitTakeRequest {
  /** One token is taken from every bucket, or from none when any of them is empty. */
  readonly buckets: readonly RateLimitBucket[];
  /**
   * Monotonic milliseconds of the caller's clock. An in-process store refills by it; a store shared by several
   * processes cannot compare their monotonic clocks and refills by its own time instead.
   */
  readonly now: number;
}

export interface RateLimitTakeResult {
  /** True when a token was taken from every bucket. */
  readonly allowed: boolean;
  /** Per bucket, in the order asked: milliseconds until it holds a whole token, 0 when it holds one. */
  readonly retryAfterMs: readonly number[];
}

export interface RateLimitStore {
  /** Atomic over the buckets asked: a denial takes nothing, so a denied call costs no bucket a token. */
  take(request: RateLimitTakeRequest): Promise<RateLimitTakeResult>;
}
