import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import { afterEach, describe, expect, it } from 'vitest';
import type { VectorFilter, VectorIndex, VectorItem } from '../../src/memory/memory-types.ts';
import { createSqliteVecIndex } from '../../src/memory/sqlite-vec-index.ts';
import { bruteForce, describeVectorIndexContract, randomVector, seededRandom } from '../../src/testing/contracts/vector-index.contract.ts';

const dimensions = 64;

// The quantized default searches exactly while small (vector-index.test.ts); the explicit exact mode must pass too.
describeVectorIndexContract('sqlite-vec (search: exact)', (size) => createSqliteVecIndex({ path: ':memory:', dimensions: size, search: 'exact' }));

/** Vectors around a few random centroids with noise, normalized: the shape of real embeddings, where sign bits carry signal. */
function clusteredItems(count: number, seed: number): { items: VectorItem[]; sample: () => number[] } {
  const random = seededRandom(seed);
  const gaussian = (): number => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const normalize = (vector: number[]): number[] => {
    const norm = Math.hypot(...vector);
    return vector.map((value) => value / norm);
  };
  const centroids = Array.from({ length: 20 }, () => normalize(Array.from({ length: dimensions }, gaussian)));
  const sample = (): number[] => {
    const centroid = centroids[Math.floor(random() * centroids.length)] as number[];
    return normalize(centroid.map((value) => value + (0.6 * gaussian()) / Math.sqrt(dimensions)));
  };
  const items = Array.from({ length: count }, (_, index) => ({
    id: `mem_${index}`,
    vector: sample(),
    metadata: { agent: `agent_${index % 4}`, sessionId: `ses_${index % 7}`, rare: index % 97 === 0 },
  }));
  return { items, sample };
}

describe('sqlite-vec index, quantized search (binary codes + exact rescoring)', () => {
  const opened: VectorIndex[] = [];
  afterEach(async () => {
    for (const index of opened.splice(0)) await index.close();
  });
  function open(options: Partial<Parameters<typeof createSqliteVecIndex>[0]> = {}): VectorIndex {
    const index = createSqliteVecIndex({ path: ':memory:', dimensions, exactUpTo: 0, ...options });
    opened.push(index);
    return index;
  }

  it('keeps recall@10 at or above 0.9 on clustered vectors, with exact cosine scores', async () => {
    const { items, sample } = clusteredItems(4_000, 3);
    const index = open();
    await index.upsert(items);
    let found = 0;
    for (let trial = 0; trial < 20; trial += 1) {
      const query = sample();
      const expected = bruteForce(items, query, 10);
      const actual = await index.search(query, 10);
      expect(actual).toHaveLength(10);
      const expectedIds = new Set(expected.map((match) => match.id));
      found += actual.filter((match) => expectedIds.has(match.id)).length;
      const byId = new Map(bruteForce(items, query, items.length).map((match) => [match.id, match.score]));
      for (const match of actual) expect(match.score).toBeCloseTo(byId.get(match.id) as number, 4);
      expect(actual.map((match) => match.score)).toEqual([...actual.map((match) => match.score)].sort((a, b) => b - a));
    }
    expect(found / 200).toBeGreaterThanOrEqual(0.9);
  });

  it('applies scope filters exactly: every result matches, and a scope smaller than the pool is searched exactly', async () => {
    const { items, sample } = clusteredItems(4_000, 5);
    const index = open();
    await index.upsert(items);
    const filters: VectorFilter[] = [{ agent: 'agent_1' }, { agent: 'agent_2', sessionId: 'ses_3' }, { rare: true }, { agent: 'agent_0', rare: true }, { agent: 'nobody' }, { agent: '' }];
    for (const filter of filters) {
      const query = sample();
      const found = await index.search(query, 10, filter);
      for (const match of found) for (const [key, value] of Object.entries(filter)) expect(match.metadata[key]).toBe(value);
      const expected = bruteForce(items, query, 10, filter);
      if (expected.length < 10 || filter.rare === true) expect(found.map((match) => match.id)).toEqual(expected.map((match) => match.id));
      else expect(found).toHaveLength(10);
    }
  });

  it('moves an item to its new agent partition when an upsert changes the agent, and forgets deleted items', async () => {
    const { items } = clusteredItems(500, 7);
    const index = open();
    await index.upsert(items);
    const moved = Array.from((items[10] as VectorItem).vector);
    await index.upsert([{ id: 'mem_10', vector: moved, metadata: { agent: 'agent_new' } }]);
    expect((await index.search(moved, 5, { agent: 'agent_new' })).map((match) => match.id)).toEqual(['mem_10']);
    expect((await index.search(moved, 5, { agent: 'agent_2' })).map((match) => match.id)).not.toContain('mem_10');
    await index.delete(['mem_10']);
    expect(await index.search(moved, 5, { agent: 'agent_new' })).toEqual([]);
    expect((await index.search(moved, 5)).map((match) => match.id)).not.toContain('mem_10');
  });

  it('handles dimensions that are not a multiple of 8, and vectors too short for codes', async () => {
    for (const size of [12, 4]) {
      const random = seededRandom(size);
      const items = Array.from({ length: 50 }, (_, index) => ({ id: `v${index}`, vector: randomVector(random, size), metadata: { agent: 'a' } }));
      const index = createSqliteVecIndex({ path: ':memory:', dimensions: size, exactUpTo: 0 });
      opened.push(index);
      await index.upsert(items);
      const query = randomVector(random, size);
      // 50 items fit in the candidate pool, so the rescored answer is the exact one.
      expect((await index.search(query, 5, { agent: 'a' })).map((match) => match.id)).toEqual(bruteForce(items, query, 5).map((match) => match.id));
    }
  });

  it('migrates an index created by the previous schema: codes and rescore vectors are built from the stored rows', async () => {
    const database = new Database(':memory:');
    sqliteVec.load(database);
    // Version 1 exactly as earlier releases created it.
    database.exec(`CREATE TABLE schema_migrations (component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at INTEGER NOT NULL, PRIMARY KEY (component, version)) WITHOUT ROWID;
      INSERT INTO schema_migrations VALUES ('vector-index:old', 1, 'items and vec0 vectors', 0);
      CREATE TABLE old_items (rowid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, metadata TEXT NOT NULL, dimensions INTEGER NOT NULL);
      CREATE VIRTUAL TABLE old_vectors USING vec0(embedding float[${dimensions}] distance_metric=cosine);`);
    const { items, sample } = clusteredItems(300, 11);
    const insertItem = database.prepare('INSERT INTO old_items (id, metadata, dimensions) VALUES (?, ?, ?)');
    const insertVector = database.prepare('INSERT INTO old_vectors (rowid, embedding) VALUES (?, ?)');
    for (const item of items) {
      const rowid = insertItem.run(item.id, JSON.stringify(item.metadata), dimensions).lastInsertRowid;
      insertVector.run(BigInt(rowid), Buffer.from(Float32Array.from(item.vector).buffer));
    }
    const index = createSqliteVecIndex({ database, dimensions, name: 'old', exactUpTo: 0 });
    opened.push(index);
    expect(database.prepare("SELECT max(version) FROM schema_migrations WHERE component = 'vector-index:old'").pluck().get()).toBe(2);
    expect(database.prepare('SELECT count(*) FROM old_codes').pluck().get()).toBe(300);
    expect(database.prepare('SELECT count(*) FROM old_rescore').pluck().get()).toBe(300);
    const query = sample();
    // 300 items, 75 per agent: the agent's partition fits in the pool, so the answer is exact.
    const expected = bruteForce(items, query, 10, { agent: 'agent_1' });
    expect((await index.search(query, 10, { agent: 'agent_1' })).map((match) => match.id)).toEqual(expected.map((match) => match.id));
    expect(await index.count()).toBe(300);
    await index.close();
    database.close();
  });
});
