/**
 * Top-10 retrieval over 100,000 memories of 384 dimensions: sqlite-vec (embedded, exact vec0 KNN) and the in-memory
 * exact scan, unfiltered and filtered to one agent of ten (the memory store's usual query). Also the end-to-end
 * `recall` of a memory store (hashing embedder + sqlite-vec + Park scoring over a pool of 50).
 *
 *   npx tsx bench/memory-retrieval.ts [--count 100000] [--queries 50]
 *
 * Target (issue): under 20 ms per top-10 query, embedded. A benchmark, not a test: it fails only if a result is wrong
 * (the backends disagree with each other on a query).
 */
import Database from 'better-sqlite3';
import { createExactScanIndex } from '../src/memory/exact-scan-index.ts';
import { createHashingEmbedder } from '../src/memory/hashing-embedder.ts';
import { createMemoryStore } from '../src/memory/memory-store.ts';
import type { VectorFilter, VectorIndex, VectorItem } from '../src/memory/memory-types.ts';
import { createSqliteVecIndex } from '../src/memory/sqlite-vec-index.ts';
import { randomVector, seededRandom } from '../src/testing/contracts/vector-index.contract.ts';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

const count = option('count', 100_000);
const queryCount = option('queries', 50);
const dimensions = 384;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number;
}

async function time(index: VectorIndex, queries: readonly number[][], filter?: VectorFilter): Promise<{ p50: number; p95: number; ids: string[][] }> {
  await index.search(queries[0] as number[], 10, filter); // warm-up
  const durations: number[] = [];
  const ids: string[][] = [];
  for (const query of queries) {
    const start = performance.now();
    const found = await index.search(query, 10, filter);
    durations.push(performance.now() - start);
    ids.push(found.map((match) => match.id));
  }
  durations.sort((a, b) => a - b);
  return { p50: percentile(durations, 0.5), p95: percentile(durations, 0.95), ids };
}

const random = seededRandom(2024);
const items: VectorItem[] = Array.from({ length: count }, (_, index) => ({
  id: `mem_${index}`,
  vector: Float32Array.from(randomVector(random, dimensions)),
  metadata: { agent: `agent_${index % 10}`, kind: 'observation' },
}));
const queries = Array.from({ length: queryCount }, () => randomVector(random, dimensions));

const sqlite = createSqliteVecIndex({ path: ':memory:', dimensions, name: 'bench' });
const exact = createExactScanIndex({ dimensions });
const rows: string[][] = [];
for (const [name, index] of [['sqlite-vec (vec0, :memory:)', sqlite], ['exact scan (in-memory Float32Array)', exact]] as const) {
  const start = performance.now();
  for (let offset = 0; offset < items.length; offset += 5_000) await index.upsert(items.slice(offset, offset + 5_000));
  const insertMs = performance.now() - start;
  const plain = await time(index, queries);
  const filtered = await time(index, queries, { agent: 'agent_3' });
  rows.push([name, insertMs.toFixed(0), plain.p50.toFixed(2), plain.p95.toFixed(2), filtered.p50.toFixed(2), filtered.p95.toFixed(2)]);
  (index as VectorIndex & { results?: unknown }).results = { plain: plain.ids, filtered: filtered.ids };
}
const [sqliteResults, exactResults] = [sqlite, exact].map((index) => (index as VectorIndex & { results: { plain: string[][]; filtered: string[][] } }).results);
if (JSON.stringify(sqliteResults) !== JSON.stringify(exactResults)) {
  console.error('sqlite-vec and exact scan disagree on some query');
  process.exitCode = 1;
}

// End to end: a memory store recall (embed the query, KNN over the agent's memories, Park scoring, touch).
const database = new Database(':memory:');
const embedder = createHashingEmbedder({ dimensions });
const store = createMemoryStore({ database, embedder, index: createSqliteVecIndex({ database, dimensions, name: 'store_bench' }) });
const storeCount = Math.min(count, 20_000);
const words = ['backup', 'deploy', 'pager', 'disk', 'latency', 'billing', 'schema', 'cache', 'queue', 'token', 'region', 'replica'];
const loadStart = performance.now();
for (let index = 0; index < storeCount; index += 1) {
  const text = `event ${index}: ${words[index % 12]} ${words[(index * 7) % 12]} on host-${index % 97} for agent ${index % 10}`;
  await store.remember({ scope: { agent: `agent_${index % 10}` }, text, importance: 1 + (index % 10) });
}
const loadMs = performance.now() - loadStart;
const recallDurations: number[] = [];
for (let index = 0; index < queryCount; index += 1) {
  const start = performance.now();
  await store.recall({ scope: { agent: 'agent_3' }, query: `${words[index % 12]} on host-${index}`, k: 10 });
  recallDurations.push(performance.now() - start);
}
recallDurations.sort((a, b) => a - b);

console.log(`\nTop-10 retrieval, ${count.toLocaleString('en')} vectors × ${dimensions} d, ${queryCount} queries (ms)`);
console.log('| index | insert all | p50 | p95 | p50, one agent of 10 | p95, one agent of 10 |');
console.log('|---|---|---|---|---|---|');
for (const row of rows) console.log(`| ${row.join(' | ')} |`);
console.log(`\nmemory store recall (hashing embedder + sqlite-vec + Park scoring, pool 50, k 10) over ${storeCount.toLocaleString('en')} memories of 10 agents:`);
console.log(`  remember: ${((loadMs / storeCount) * 1000).toFixed(0)} µs each; recall p50 ${percentile(recallDurations, 0.5).toFixed(2)} ms, p95 ${percentile(recallDurations, 0.95).toFixed(2)} ms`);
console.log(`results agree between sqlite-vec and exact scan: ${process.exitCode === 1 ? 'NO' : 'yes'}`);
await store.close();
await sqlite.close();
await exact.close();
