import { afterEach, describe, expect, it } from 'vitest';
import type { LimitCost, ProviderLimits, ProviderLimitStore, QueueLane } from '../../spec/provider-limits.ts';

const one: LimitCost = { requests: 1, inputTokens: 0, outputTokens: 0, tokens: 0 };

function tokensCost(inputTokens: number): LimitCost {
  return { requests: 1, inputTokens, outputTokens: 0, tokens: inputTokens };
}

/**
 * The behaviour every ProviderLimitStore backend must have. `createStores` builds a fresh, empty storage and returns
 * two handles on it (two processes' views; the same store twice for a backend that lives in one process). The limits
 * used refill slowly (a few per minute), so that the milliseconds a test takes never change its outcome; a store
 * that keeps its own time (Redis) is tested as it runs.
 */
export function describeProviderLimitStoreContract(
  name: string,
  createStores: () => Promise<readonly [ProviderLimitStore, ProviderLimitStore]> | readonly [ProviderLimitStore, ProviderLimitStore],
): void {
  describe(`ProviderLimitStore contract: ${name}`, () => {
    const opened: ProviderLimitStore[] = [];
    let counter = 0;
    async function open(): Promise<{ first: ProviderLimitStore; second: ProviderLimitStore; account: string }> {
      const [first, second] = await createStores();
      opened.push(first, second);
      counter += 1;
      return { first, second, account: `acct-${process.pid}-${Date.now()}-${counter}` };
    }
    afterEach(async () => {
      for (const store of new Set(opened.splice(0))) await store.close();
    });
    const ask = (store: ProviderLimitStore, account: string, ticket: string, limits: ProviderLimits, cost: LimitCost = one, lane: QueueLane = 2) =>
      store.acquire({ account, ticket, lane, cost, limits, now: Date.now() });

    it('grants up to the limit, then refuses with the time a request takes to refill', async () => {
      const { first, account } = await open();
      const limits = { requestsPerMinute: 3 };
      for (const ticket of ['a', 'b', 'c']) expect((await ask(first, account, ticket, limits)).granted).toBe(true);
      const refused = await ask(first, account, 'd', limits);
      expect(refused.granted).toBe(false);
      // One request refills in 20 s at 3 per minute.
      expect(refused.waitMs).toBeGreaterThan(15_000);
      expect(refused.waitMs).toBeLessThanOrEqual(20_001);
      expect(refused.queueLength).toBe(1);
    });

    it('shares one set of buckets between handles', async () => {
      const { first, second, account } = await open();
      const limits = { requestsPerMinute: 3 };
      expect((await ask(first, account, 'a', limits)).granted).toBe(true);
      expect((await ask(second, account, 'b', limits)).granted).toBe(true);
      expect((await ask(first, account, 'c', limits)).granted).toBe(true);
      expect((await ask(second, account, 'd', limits)).granted).toBe(false);
      expect(await first.queueLength(account, Date.now())).toBe(1);
    });

    it('serves calls of running sessions before new ones, and grants no call past an earlier waiter', async () => {
      const { first, second, account } = await open();
      const limits = { inputTokensPerMinute: 100 };
      expect((await ask(first, account, 'taken', limits, tokensCost(90))).granted).toBe(true);
      const newSession = await ask(first, account, 'new', limits, tokensCost(50), 2);
      expect(newSession.granted).toBe(false);
      const running = await ask(second, account, 'running', limits, tokensCost(40), 0);
      expect(running).toMatchObject({ granted: false, position: 0, queueLength: 2 });
      // 5 tokens would fit now, but two calls wait ahead of this one.
      const small = await ask(first, account, 'small', limits, tokensCost(5), 2);
      expect(small).toMatchObject({ granted: false, position: 2, queueLength: 3 });
      expect((await ask(first, account, 'new', limits, tokensCost(50), 2)).position).toBe(1);
    });

    it('grants the head of the queue from any caller, and the head learns it on its next ask', async () => {
      const { first, second, account } = await open();
      const limits = { inputTokensPerMinute: 100 };
      expect((await ask(first, account, 'taken', limits, tokensCost(100))).granted).toBe(true);
      expect((await ask(first, account, 'head', limits, tokensCost(60))).granted).toBe(false);
      expect((await ask(second, account, 'next', limits, tokensCost(60))).granted).toBe(false);
      // The first call used only 20 of its 100: 80 come back, enough for the head but not for both.
      await first.settle({ account, reserved: tokensCost(100), actual: tokensCost(20), now: Date.now() });
      expect((await ask(second, account, 'next', limits, tokensCost(60))).granted).toBe(false);
      expect((await ask(first, account, 'head', limits, tokensCost(60))).granted).toBe(true);
      expect(await first.queueLength(account, Date.now())).toBe(1);
    });

    it('takes a cancelled waiter out of the queue', async () => {
      const { first, second, account } = await open();
      const limits = { requestsPerMinute: 1 };
      expect((await ask(first, account, 'a', limits)).granted).toBe(true);
      expect((await ask(first, account, 'b', limits)).granted).toBe(false);
      expect((await ask(first, account, 'c', limits)).position).toBe(1);
      await second.cancel(account, 'b');
      expect(await first.queueLength(account, Date.now())).toBe(1);
      expect((await ask(first, account, 'c', limits)).position).toBe(0);
      await second.cancel(account, 'unknown');
    });

    it('follows the provider: a lower remaining, a learned limit, and a retry-after block', async () => {
      const { first, second, account } = await open();
      await first.observe({ account, readings: { requests: { limit: 2, remaining: 2 } }, now: Date.now() });
      expect((await ask(second, account, 'a', {})).granted).toBe(true);
      expect((await ask(second, account, 'b', {})).granted).toBe(true);
      expect((await ask(second, account, 'c', {})).granted).toBe(false);
      await second.cancel(account, 'c');

      const other = `${account}-other`;
      const limits = { requestsPerMinute: 100 };
      expect((await ask(first, other, 'x', limits)).granted).toBe(true);
      await second.observe({ account: other, readings: { requests: { remaining: 0 } }, now: Date.now() });
      expect((await ask(first, other, 'y', limits)).granted).toBe(false);
      await first.cancel(other, 'y');

      const blocked = `${account}-blocked`;
      await first.observe({ account: blocked, readings: {}, blockForMs: 5_000, now: Date.now() });
      const refused = await ask(second, blocked, 'z', limits);
      expect(refused.granted).toBe(false);
      expect(refused.waitMs).toBeGreaterThan(4_000);
    });

    it('a configured limit above the learned one is lowered to it', async () => {
      const { first, account } = await open();
      const limits = { requestsPerMinute: 1_000 };
      await first.observe({ account, readings: { requests: { limit: 1, remaining: 1 } }, now: Date.now() });
      expect((await ask(first, account, 'a', limits)).granted).toBe(true);
      expect((await ask(first, account, 'b', limits)).granted).toBe(false);
    });

    it('settles a call from its usage: an estimate too high gives back, one too low takes more', async () => {
      const { first, second, account } = await open();
      const limits = { inputTokensPerMinute: 100 };
      expect((await ask(first, account, 'a', limits, tokensCost(80))).granted).toBe(true);
      await second.settle({ account, reserved: tokensCost(80), actual: tokensCost(10), now: Date.now() });
      expect((await ask(first, account, 'b', limits, tokensCost(85))).granted).toBe(true);
      await second.settle({ account, reserved: tokensCost(0), actual: tokensCost(50), now: Date.now() });
      expect((await ask(first, account, 'c', limits, tokensCost(5))).granted).toBe(false);
    });

    it('adds spending to a budget window and reports when it ends', async () => {
      const { first, second, account } = await open();
      const budget = { tokens: 1_000, windowMs: 3_600_000 };
      const key = `tenant:${account}`;
      expect((await first.budget(key, budget, Date.now())).spent).toBe(0);
      await first.spend(key, budget, 300, Date.now());
      await second.spend(key, budget, 450, Date.now());
      const state = await second.budget(key, budget, Date.now());
      expect(state.spent).toBe(750);
      expect(state.resetInMs).toBeGreaterThan(0);
      expect(state.resetInMs).toBeLessThanOrEqual(3_600_000);
      expect((await first.budget(`${key}-other`, budget, Date.now())).spent).toBe(0);
    });
  });
}
