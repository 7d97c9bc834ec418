import { describe, expect, it } from 'vitest';
import { createTokenBucket, hasToken } from './token-bucket.ts';

describe('token bucket', () => {
  it('starts full, empties one token per take, and refills at its rate', () => {
    const bucket = createTokenBucket({ capacity: 2, refillPerSecond: 4 }, 0);
    expect(bucket.available(0)).toBe(2);
    bucket.take(0);
    bucket.take(0);
    expect(hasToken(bucket, 0)).toBe(false);
    expect(bucket.waitForToken(0)).toBe(250);
    expect(bucket.available(125)).toBe(0.5);
    expect(bucket.waitForToken(125)).toBe(125);
    expect(hasToken(bucket, 250)).toBe(true);
    expect(bucket.waitForToken(250)).toBe(0);
  });

  it('neither refills nor drains when the clock steps backwards', () => {
    const bucket = createTokenBucket({ capacity: 1, refillPerSecond: 1 }, 10_000);
    bucket.take(10_000);
    expect(bucket.available(5_000)).toBe(0);
    // Time lost going backwards is not counted twice on the way forward.
    expect(bucket.available(10_500)).toBe(0.5);
  });

  it('refuses to hand out a token it does not have', () => {
    const bucket = createTokenBucket({ capacity: 1, refillPerSecond: 1 }, 0);
    bucket.take(0);
    expect(() => bucket.take(0)).toThrow(/does not have/);
  });
});
