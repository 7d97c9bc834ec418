import { afterEach, describe, expect, it } from 'vitest';
import type { VectorFilter, VectorIndex, VectorItem, VectorMetadata } from '../../memory/memory-types.ts';
import { expectKeelError } from './journal.contract.ts';

/** A small deterministic generator (mulberry32), so every backend sees the same vectors. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomVector(random: () => number, dimensions: number): number[] {
  return Array.from({ length: dimensions }, () => random() * 2 - 1);
}

/** The reference answer: cosine similarity against every item, best first. */
export function bruteForce(items: readonly VectorItem[], query: readonly number[], k: number, filter?: VectorFilter): { id: string; score: number }[] {
  const cosine = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let index = 0; index < a.length; index += 1) {
      dot += (a[index] as number) * (b[index] as number);
      na += (a[index] as number) ** 2;
      nb += (b[index] as number) ** 2;
    }
    return dot / Math.sqrt(na * nb);
  };
  return items
    .filter((item) => Object.entries(filter ?? {}).every(([key, value]) => item.metadata?.[key] === value))
    .map((item) => ({ id: item.id, score: cosine(Float32Array.from(item.vector), Float32Array.from(query)) }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
}

const dimensions = 16;

function sampleItems(count: number, seed = 7): VectorItem[] {
  const random = seededRandom(seed);
  return Array.from({ length: count }, (_, index) => {
    const metadata: VectorMetadata = {
      agent: index % 3 === 0 ? 'agent-a' : 'agent-b',
      sessionId: `ses_${index % 5}`,
      rare: index % 97 === 0,
      rank: index % 4,
    };
    return { id: `mem_${index}`, vector: randomVector(random, dimensions), metadata };
  });
}

/**
 * The behaviour every VectorIndex backend must have. `create(dimensions)` returns a fresh, empty index;
 * `cleanup` (default: `close`) runs after each test for every index created.
 */
export function describeVectorIndexContract(
  name: string,
  create: (dimensions: number) => Promise<VectorIndex> | VectorIndex,
  cleanup: (index: VectorIndex) => Promise<void> | void = (index) => index.close(),
): void {
  describe(`VectorIndex contract: ${name}`, () => {
    const opened: VectorIndex[] = [];
    async function open(): Promise<VectorIndex> {
      const index = await create(dimensions);
      opened.push(index);
      return index;
    }
    afterEach(async () => {
      for (const index of opened.splice(0)) await cleanup(index);
    });

    function expectSameAs(actual: { id: string; score: number }[], expected: { id: string; score: number }[]): void {
      expect(actual.map((match) => match.id)).toEqual(expected.map((match) => match.id));
      actual.forEach((match, position) => expect(match.score).toBeCloseTo((expected[position] as { score: number }).score, 4));
    }

    it('is empty when new, and searching it finds nothing', async () => {
      const index = await open();
      expect(index.dimensions).toBe(dimensions);
      expect(await index.count()).toBe(0);
      expect(await index.search(randomVector(seededRandom(1), dimensions), 5)).toEqual([]);
    });

    it('finds the same neighbours, in the same order and with the same cosine scores, as brute force', async () => {
      const index = await open();
      const items = sampleItems(300);
      await index.upsert(items.slice(0, 150));
      await index.upsert(items.slice(150));
      expect(await index.count()).toBe(300);
      const random = seededRandom(99);
      for (let trial = 0; trial < 10; trial += 1) {
        const query = randomVector(random, dimensions);
        expectSameAs(await index.search(query, 10), bruteForce(items, query, 10));
      }
      const exact = items[42] as VectorItem;
      const [top] = await index.search(Array.from(exact.vector), 1);
      expect(top?.id).toBe('mem_42');
      expect(top?.score).toBeCloseTo(1, 5);
      expect(top?.metadata).toEqual(exact.metadata);
    });

    it('returns at most k matches, and all of them when k exceeds the count', async () => {
      const index = await open();
      const items = sampleItems(12);
      await index.upsert(items);
      const query = randomVector(seededRandom(3), dimensions);
      expect(await index.search(query, 1)).toHaveLength(1);
      expect(await index.search(query, 5)).toHaveLength(5);
      expectSameAs(await index.search(query, 50), bruteForce(items, query, 50));
      await expectKeelError(index.search(query, 0), 'invalid-argument');
    });

    it('filters by metadata: scope fields, rare values, booleans and numbers, exactly as brute force', async () => {
      const index = await open();
      const items = sampleItems(300);
      await index.upsert(items);
      const random = seededRandom(5);
      const filters: VectorFilter[] = [
        { agent: 'agent-a' },
        { agent: 'agent-b', sessionId: 'ses_2' },
        { rare: true },
        { rank: 3, agent: 'agent-a' },
        { agent: 'nobody' },
      ];
      for (const filter of filters) {
        const query = randomVector(random, dimensions);
        const found = await index.search(query, 7, filter);
        expectSameAs(found, bruteForce(items, query, 7, filter));
        for (const match of found) for (const [key, value] of Object.entries(filter)) expect(match.metadata[key]).toBe(value);
      }
    });

    it('deletes ids, ignoring unknown ones', async () => {
      const index = await open();
      const items = sampleItems(40);
      await index.upsert(items);
      await index.delete(['mem_0', 'mem_1', 'mem_unknown']);
      expect(await index.count()).toBe(38);
      const remaining = items.slice(2);
      const query = Array.from((items[0] as VectorItem).vector);
      const found = await index.search(query, 40);
      expect(found.map((match) => match.id)).not.toContain('mem_0');
      expectSameAs(found, bruteForce(remaining, query, 40));
      await index.delete([]);
      expect(await index.count()).toBe(38);
    });

    it('updates a vector and its metadata in place on upsert of an existing id', async () => {
      const index = await open();
      const items = sampleItems(30);
      await index.upsert(items);
      const moved = randomVector(seededRandom(11), dimensions);
      await index.upsert([{ id: 'mem_3', vector: moved, metadata: { agent: 'agent-z' } }]);
      expect(await index.count()).toBe(30);
      const [top] = await index.search(moved, 1);
      expect(top?.id).toBe('mem_3');
      expect(top?.score).toBeCloseTo(1, 5);
      expect(top?.metadata).toEqual({ agent: 'agent-z' });
      expect((await index.search(moved, 30, { agent: 'agent-z' })).map((match) => match.id)).toEqual(['mem_3']);
      // The same id twice in one batch: the last one wins.
      await index.upsert([
        { id: 'mem_4', vector: moved, metadata: { agent: 'first' } },
        { id: 'mem_4', vector: moved, metadata: { agent: 'second' } },
      ]);
      expect(await index.count()).toBe(30);
      expect((await index.search(moved, 30, { agent: 'second' })).map((match) => match.id)).toEqual(['mem_4']);
    });

    it('rejects vectors of the wrong dimension with invalid-argument, storing nothing of the batch', async () => {
      const index = await open();
      await expectKeelError(index.upsert([{ id: 'ok', vector: new Array(dimensions).fill(0.5) }, { id: 'bad', vector: [1, 2, 3] }]), 'invalid-argument');
      expect(await index.count()).toBe(0);
      await expectKeelError(index.search([1, 2, 3], 3), 'invalid-argument');
      await expectKeelError(index.upsert([{ id: 'nan', vector: new Array(dimensions).fill(Number.NaN) }]), 'invalid-argument');
    });
  });
}
