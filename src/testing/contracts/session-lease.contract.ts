import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../spec/clock.ts';
import type { SessionLeaseStore } from '../../spec/session-lease.ts';
import { expectKeelError } from './journal.contract.ts';

/** A clock the contract moves by hand, so that expiry is tested without waiting. */
export interface ManualClock extends Pick<Clock, 'now'> {
  advance(milliseconds: number): void;
}

export function createManualClock(start = 1_700_000_000_000): ManualClock {
  let now = start;
  return {
    now: () => now,
    advance(milliseconds) {
      now += milliseconds;
    },
  };
}

/**
 * The behaviour every SessionLeaseStore backend must have. `createStore` builds a fresh, empty store that reads
 * time from the given clock; call it twice with the same clock and it must return two handles on the SAME
 * storage (two processes' views), or the same store twice for a backend that lives in one process.
 */
export function describeSessionLeaseContract(
  name: string,
  createStores: (clock: Pick<Clock, 'now'>) => Promise<readonly [SessionLeaseStore, SessionLeaseStore]> | readonly [SessionLeaseStore, SessionLeaseStore],
): void {
  describe(`SessionLeaseStore contract: ${name}`, () => {
    const opened: SessionLeaseStore[] = [];
    async function open(): Promise<{ first: SessionLeaseStore; second: SessionLeaseStore; clock: ManualClock }> {
      const clock = createManualClock();
      const [first, second] = await createStores(clock);
      opened.push(first, second);
      return { first, second, clock };
    }
    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
    });

    const ttlMs = 30_000;

    it('grants a free lease with fence 1 and reports it as current', async () => {
      const { first, clock } = await open();
      expect(await first.current('ses_a')).toBeUndefined();
      const result = await first.acquire({ sessionId: 'ses_a', owner: 'worker-1', ttlMs });
      const lease = { sessionId: 'ses_a', owner: 'worker-1', acquiredAt: clock.now(), expiresAt: clock.now() + ttlMs, fence: 1 };
      expect(result).toEqual({ acquired: true, lease });
      expect(await first.current('ses_a')).toEqual(lease);
    });

    it('refuses a second owner while the lease is live, naming the holder, and changes nothing', async () => {
      const { first, second, clock } = await open();
      await first.acquire({ sessionId: 'ses_a', owner: 'worker-1', ttlMs });
      clock.advance(ttlMs - 1);
      const result = await second.acquire({ sessionId: 'ses_a', owner: 'worker-2', ttlMs });
      expect(result.acquired).toBe(false);
      expect(result).toMatchObject({ holder: { owner: 'worker-1', fence: 1, expiresAt: clock.now() + 1 } });
      expect(await second.current('ses_a')).toMatchObject({ owner: 'worker-1', fence: 1 });
    });

    it('keeps leases of different sessions apart', async () => {
      const { first, second } = await open();
      await first.acquire({ sessionId: 'ses_a', owner: 'worker-1', ttlMs });
      expect(await second.acquire({ sessionId: 'ses_b', owner: 'worker-2', ttlMs })).toMatchObject({ acquired: true, lease: { fence: 1 } });
    });

    it('renews when the holder acquires again: same fence and acquiredAt, later expiry', async () => {
      const { first, clock } = await open();
      const start = clock.now();
      await first.acquire({ sessionId: 'ses_a', owner: 'worker-1', ttlMs });
      clock.advance(10_000);
      const again = await first.acquire({ sessionId: 'ses_a', owner: 'worker-1', ttlMs });
      expect(again).toEqual({ acquired: true, lease: { sessionId: 'ses_a', owner: 'worker-1', acquiredAt: start, expiresAt: clock.now() + ttlMs, fence: 1 } });
    });

    it('lets another owner take over an expired lease, with the next fence and the previous holder named', async () => {
      const { first, second, clock } = await open();
      await first.acquire({ sessionId: 'ses_a', owner: 'worker-1', ttlMs });
      clock.advance(ttlMs);
      const result = await second.acquire({ sessionId: 'ses_a', owner: 'worker-2', ttlMs });
      expect(result).toEqual({
        acquired: true,
        lease: { sessionId: 'ses_a', owner: 'worker-2', acquiredAt: clock.now(), expiresAt: clock.now() + ttlMs, fence: 2 },
        tookOverFrom: 'worker-1',
      });
      expect(await first.renew({ sessionId: 'ses_a', owner: 'worker-1', ttlMs })).toBe(false);
      expect(await first.acquire({ sessionId: 'ses_a', owner: 'worker-1', ttlMs })).toMatchObject({ acquired: false, holder: { owner: 'worker-2' } });
    });

    it('renews only for the holder', async () => {
      const { first, second, clock } = await open();
      await first.acquire({ sessionId: 'ses_a', owner: 'worker-1', ttlMs });
      clock.advance(20_000);
      expect(await second.renew({ sessionId: 'ses_a', owner: 'worker-2', ttlMs })).toBe(false);
      expect(await second.renew({ sessionId: 'ses_unknown', owner: 'worker-2', ttlMs })).toBe(false);
      expect(await first.renew({ sessionId: 'ses_a', owner: 'worker-1', ttlMs })).toBe(true);
      expect(await second.current('ses_a')).toMatchObject({ owner: 'worker-1', expiresAt: clock.now() + ttlMs, fence: 1 });
      // Renewed, so still live where the first expiry has passed.
      clock.advance(15_000);
      expect(await second.acquire({ sessionId: 'ses_a', owner: 'worker-2', ttlMs })).toMatchObject({ acquired: false });
    });

    it('ignores a release by anyone but the holder', async () => {
      const { first, second } = await open();
      await first.acquire({ sessionId: 'ses_a', owner: 'worker-1', ttlMs });
      await second.release('ses_a', 'worker-2');
      await second.release('ses_unknown', 'worker-2');
      expect(await first.current('ses_a')).toMatchObject({ owner: 'worker-1' });
      expect(await second.acquire({ sessionId: 'ses_a', owner: 'worker-2', ttlMs })).toMatchObject({ acquired: false });
    });

    it('frees a released lease at once; the next holder gets a higher fence and no takeover', async () => {
      const { first, second } = await open();
      await first.acquire({ sessionId: 'ses_a', owner: 'worker-1', ttlMs });
      await first.release('ses_a', 'worker-1');
      expect(await first.current('ses_a')).toBeUndefined();
      expect(await first.renew({ sessionId: 'ses_a', owner: 'worker-1', ttlMs })).toBe(false);
      const result = await second.acquire({ sessionId: 'ses_a', owner: 'worker-2', ttlMs });
      expect(result).toMatchObject({ acquired: true, lease: { owner: 'worker-2', fence: 2 } });
      expect(result).not.toHaveProperty('tookOverFrom');
    });

    it('starts a new tenure, with a new fence, when the holder comes back after its lease expired', async () => {
      const { first, clock } = await open();
      await first.acquire({ sessionId: 'ses_a', owner: 'worker-1', ttlMs });
      clock.advance(ttlMs + 1);
      const result = await first.acquire({ sessionId: 'ses_a', owner: 'worker-1', ttlMs });
      expect(result).toEqual({ acquired: true, lease: { sessionId: 'ses_a', owner: 'worker-1', acquiredAt: clock.now(), expiresAt: clock.now() + ttlMs, fence: 2 } });
    });

    it('rejects a request without a session, an owner or a positive ttl', async () => {
      const { first } = await open();
      await expectKeelError(first.acquire({ sessionId: '', owner: 'worker-1', ttlMs }), 'invalid-argument');
      await expectKeelError(first.acquire({ sessionId: 'ses_a', owner: '', ttlMs }), 'invalid-argument');
      await expectKeelError(first.acquire({ sessionId: 'ses_a', owner: 'worker-1', ttlMs: 0 }), 'invalid-argument');
      await expectKeelError(first.renew({ sessionId: 'ses_a', owner: 'worker-1', ttlMs: Number.NaN }), 'invalid-argument');
      expect(await first.current('ses_a')).toBeUndefined();
    });
  });
}
