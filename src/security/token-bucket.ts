import { KeelError } from '../errors/index.ts';
import type { TokenBucketLimit } from '../spec/rate-limit-store.ts';

/**
 * A token bucket: up to `capacity` calls at once, then `refillPerSecond` more each second. Pure: the
 * caller passes the time (monotonic milliseconds), so tests and replays control it exactly.
 */

export type { TokenBucketLimit } from '../spec/rate-limit-store.ts';

export interface TokenBucket {
  readonly limit: TokenBucketLimit;
  /** Tokens available at `now`, after refilling for the time since the last look. */
  available(now: number): number;
  /** Milliseconds from `now` until one whole token is available; 0 when one is. */
  waitForToken(now: number): number;
  /** Takes one token; call only after `available(now)` said there is one. */
  take(now: number): void;
}

// Refills are fractions of a token; a sum that should reach exactly 1 can land a hair below it.
const tolerance = 1e-9;

export function checkTokenBucketLimit(limit: TokenBucketLimit, name: string): TokenBucketLimit {
  if (!(Number.isFinite(limit.capacity) && limit.capacity >= 1)) {
    throw new KeelError('invalid-config', `${name}.capacity must be a number of calls of at least 1, got ${String(limit.capacity)}.`);
  }
  if (!(Number.isFinite(limit.refillPerSecond) && limit.refillPerSecond > 0)) {
    throw new KeelError('invalid-config', `${name}.refillPerSecond must be a positive number of calls per second, got ${String(limit.refillPerSecond)}.`);
  }
  return { capacity: limit.capacity, refillPerSecond: limit.refillPerSecond };
}

/** A new bucket starts full: the first burst of `capacity` calls goes through. */
export function createTokenBucket(limit: TokenBucketLimit, now: number): TokenBucket {
  let tokens = limit.capacity;
  let updatedAt = now;

  function refill(at: number): void {
    // A clock that steps backwards refills nothing rather than draining the bucket.
    const elapsed = Math.max(0, at - updatedAt);
    tokens = Math.min(limit.capacity, tokens + (elapsed * limit.refillPerSecond) / 1000);
    updatedAt = Math.max(updatedAt, at);
  }

  return {
    limit,
    available(at) {
      refill(at);
      return tokens;
    },
    waitForToken(at) {
      refill(at);
      if (tokens >= 1 - tolerance) return 0;
      return Math.ceil(((1 - tokens) * 1000) / limit.refillPerSecond);
    },
    take(at) {
      refill(at);
      if (tokens < 1 - tolerance) throw new KeelError('internal', 'A token bucket was asked for a token it does not have.');
      tokens = Math.max(0, tokens - 1);
    },
  };
}

export function hasToken(bucket: TokenBucket, now: number): boolean {
  return bucket.available(now) >= 1 - tolerance;
}
