import { afterEach, describe, expect, it } from 'vitest';
import type { IdempotencyStore, RecordedToolOutcome } from '../../spec/idempotency.ts';

/**
 * The behaviour every IdempotencyStore backend must have. `createStores` builds a fresh, empty store and returns
 * two handles on the SAME storage (two processes' views), or the same store twice for a backend that lives in one
 * process. `cleanup` runs after each test for every handle (default: `close` when the store has one).
 */
export function describeIdempotencyStoreContract(
  name: string,
  createStores: () => Promise<readonly [IdempotencyStore, IdempotencyStore]> | readonly [IdempotencyStore, IdempotencyStore],
  cleanup: (store: IdempotencyStore) => Promise<void> | void = (store) => (store as { close?: () => Promise<void> }).close?.(),
): void {
  describe(`IdempotencyStore contract: ${name}`, () => {
    const opened = new Set<IdempotencyStore>();
    async function open(): Promise<readonly [IdempotencyStore, IdempotencyStore]> {
      const stores = await createStores();
      for (const store of stores) opened.add(store);
      return stores;
    }
    afterEach(async () => {
      for (const store of opened) await cleanup(store);
      opened.clear();
    });

    const success: RecordedToolOutcome = { ok: true, output: '{"refund":"rf_1"}', error: null, fullOutputBlob: null, recordedAt: 1_700_000_000_123 };
    const failure: RecordedToolOutcome = { ok: false, output: null, error: { code: 'tool-failed', message: 'card declined' }, fullOutputBlob: null, recordedAt: 1_700_000_000_456 };

    it('answers undefined for a key never recorded', async () => {
      const [store] = await open();
      expect(await store.get('session:1:call_1')).toBeUndefined();
    });

    it('gives back a success and a failure exactly as recorded, and to another handle', async () => {
      const [first, second] = await open();
      const truncated = { ...success, output: 'first 100 characters…', fullOutputBlob: 'ab'.repeat(32) };
      await first.put('k-success', truncated);
      await first.put('k-failure', failure);
      expect(await first.get('k-success')).toEqual(truncated);
      expect(await second.get('k-failure')).toEqual(failure);
    });

    it('keeps the first outcome of a key: a second put, from any handle, changes nothing', async () => {
      const [first, second] = await open();
      await first.put('k', success);
      await second.put('k', failure);
      expect(await second.get('k')).toEqual(success);
    });

    it('lets exactly one of several concurrent puts of a key win', async () => {
      const [first, second] = await open();
      const outcomes = Array.from({ length: 6 }, (_, index): RecordedToolOutcome => ({ ...success, output: `writer ${index}`, recordedAt: success.recordedAt + index }));
      await Promise.all(outcomes.map((outcome, index) => (index % 2 === 0 ? first : second).put('k', outcome)));
      const kept = await first.get('k');
      expect(outcomes).toContainEqual(kept);
      expect(await second.get('k')).toEqual(kept);
    });

    it('round-trips unicode, U+0000 and a large output byte for byte', async () => {
      const [store] = await open();
      const output = `Grüße 你好 🧪 a\u0000b\r\n${'x'.repeat(512 * 1024)}`;
      await store.put('k-large', { ...success, output });
      await store.put('k-error', { ...failure, error: { code: 'tool-failed', message: 'nul \u0000 inside' } });
      expect((await store.get('k-large'))?.output === output).toBe(true);
      expect((await store.get('k-error'))?.error).toEqual({ code: 'tool-failed', message: 'nul \u0000 inside' });
    });

    it('keeps what it stored when the caller changes the outcome it put or got', async () => {
      const [store] = await open();
      const outcome = structuredClone(failure);
      await store.put('k', outcome);
      (outcome.error as { message: string }).message = 'changed after put';
      const read = await store.get('k');
      try {
        (read!.error as { message: string }).message = 'changed after get';
      } catch {
        // A backend may hand out frozen outcomes.
      }
      expect(await store.get('k')).toEqual(failure);
    });
  });
}
