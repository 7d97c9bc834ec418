import { createTokenBucket } from '../../security/token-bucket.ts';
import type { TokenBucket } from '../../security/token-bucket.ts';
import type { RateLimitBucket, RateLimitStore, RateLimitTakeRequest, RateLimitTakeResult } from '../../spec/rate-limit-store.ts';

/**
 * Token buckets in this process's memory: limits hold for every session this process runs, and are lost on restart.
 * A bucket keeps the limit it was created with; a later request for the same key with another limit uses the first.
 */
export function createMemoryRateLimitStore(): RateLimitStore {
  const buckets = new Map<string, TokenBucket>();

  function bucketFor(bucket: RateLimitBucket, now: number): TokenBucket {
    let found = buckets.get(bucket.key);
    if (found === undefined) {
      found = createTokenBucket(bucket.limit, now);
      buckets.set(bucket.key, found);
    }
    return found;
  }

  return {
    take(request: RateLimitTakeRequest): Promise<RateLimitTakeResult> {
      const taken = request.buckets.map((bucket) => bucketFor(bucket, request.now));
      // waitForToken is 0 exactly when the bucket holds a whole token.
      const retryAfterMs = taken.map((bucket) => bucket.waitForToken(request.now));
      const allowed = retryAfterMs.every((wait) => wait === 0);
      if (allowed) for (const bucket of taken) bucket.take(request.now);
      return Promise.resolve({ allowed, retryAfterMs });
    },
  };
}
