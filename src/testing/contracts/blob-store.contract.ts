import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { BlobStore } from '../../spec/journal.ts';
import { expectKeelError } from './journal.contract.ts';

function sha256Hex(content: string): string {
  return createHash('sha256').update(content, 'utf8').digest('hex');
}

/**
 * The behaviour every BlobStore backend must have. `cleanup` (default: `close`) runs after each test
 * for every store created.
 */
export function describeBlobStoreContract(
  name: string,
  createBlobStore: () => Promise<BlobStore> | BlobStore,
  cleanup: (store: BlobStore) => Promise<void> | void = (store) => store.close(),
): void {
  describe(`BlobStore contract: ${name}`, () => {
    const opened: BlobStore[] = [];
    async function open(): Promise<BlobStore> {
      const store = await createBlobStore();
      opened.push(store);
      return store;
    }
    afterEach(async () => {
      for (const store of opened.splice(0)) await cleanup(store);
    });

    it('returns the SHA-256 hex of the content and gives the content back by it', async () => {
      const store = await open();
      const hash = await store.put('{"role":"user","content":"hello"}');
      expect(hash).toBe(sha256Hex('{"role":"user","content":"hello"}'));
      expect(hash).toMatch(/^[0-9a-f]{64}$/);
      expect(await store.get(hash)).toBe('{"role":"user","content":"hello"}');
    });

    it('stores the same content once, however often and however concurrently it is put', async () => {
      const store = await open();
      const hashes = await Promise.all(Array.from({ length: 5 }, () => store.put('same prompt')));
      expect(new Set(hashes)).toEqual(new Set([sha256Hex('same prompt')]));
      expect(await store.put('same prompt')).toBe(hashes[0]);
      expect(await store.get(hashes[0]!)).toBe('same prompt');
    });

    it('keeps different contents apart', async () => {
      const store = await open();
      const first = await store.put('prompt one');
      const second = await store.put('prompt two');
      expect(first).not.toBe(second);
      expect(await store.get(first)).toBe('prompt one');
      expect(await store.get(second)).toBe('prompt two');
    });

    it('answers undefined for a hash it does not hold', async () => {
      const store = await open();
      await store.put('something');
      expect(await store.get(sha256Hex('something else'))).toBeUndefined();
      expect(await store.get('not-a-hash')).toBeUndefined();
    });

    it('round-trips empty, unicode and multi-megabyte content byte for byte', async () => {
      const store = await open();
      const contents = [
        '',
        'Grüße, 你好, مرحبا, 🧪👩🏽‍🔬, e\u0301, a\u0000b, \r\n and \t',
        '🦀'.repeat(300_000) + 'x'.repeat(1024 * 1024),
      ];
      for (const content of contents) {
        const hash = await store.put(content);
        expect(hash).toBe(sha256Hex(content));
        const read = await store.get(hash);
        expect(read?.length).toBe(content.length);
        expect(read === content).toBe(true);
      }
    });

    it('keeps a lone surrogate as U+FFFD, the text its hash was taken over', async () => {
      const store = await open();
      const hash = await store.put('broken \ud800 pair');
      expect(hash).toBe(sha256Hex('broken \ufffd pair'));
      expect(await store.get(hash)).toBe('broken \ufffd pair');
    });

    it('fails with storage-failure once closed, and closing twice is harmless', async () => {
      const store = await open();
      await store.close();
      await store.close();
      await expectKeelError(store.put('late'), 'storage-failure');
    });
  });
}
