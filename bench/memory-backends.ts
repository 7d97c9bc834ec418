/**
 * The memory store on each backend with the same data: `remember` (embed, store the record, store the vector) and the
 * end-to-end `recall` (embed the query, nearest pool of 50 in the agent's scope, Park scoring, mark accessed), on
 * SQLite with sqlite-vec and on a PostgreSQL server started here (Debian's packages have no pgvector, so vectors are
 * scanned exactly in SQL). One writer, one reader, sequential; the hashing embedder (384 dimensions).
 *
 *   node --import tsx bench/memory-backends.ts [count=1000]
 *
 * A benchmark, not a test: numbers depend on the machine's load (printed first).
 */
import { loadavg } from 'node:os';
import Database from 'better-sqlite3';
import { startPostgresServer } from '../src/testing/postgres-server.ts';
import { openPostgresDatabase } from '../src/store/postgres/index.ts';
import { createHashingEmbedder, createMemoryStore, createPostgresMemoryStore, createSqliteVecIndex } from '../src/memory/index.ts';
import type { MemoryStore } from '../src/memory/index.ts';

const words = 'backup deploy orion vega database outage latency quota disk certificate rotation invoice region cluster alert billing'.split(' ');
async function measure(name: string, store: MemoryStore, count: number): Promise<void> {
  let seed = 7;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const started = performance.now();
  for (let index = 0; index < count; index += 1) {
    await store.remember({ scope: { agent: 'bench', sessionId: `s${index % 10}` }, text: `note ${index} ${Array.from({ length: 6 }, () => words[Math.floor(next() * words.length)]).join(' ')}`, importance: 1 + (index % 10) });
  }
  const writeMs = performance.now() - started;
  const times: number[] = [];
  for (let index = 0; index < 40; index += 1) {
    const at = performance.now();
    await store.recall({ scope: { agent: 'bench' }, query: `${words[index % words.length]} ${words[(index * 7) % words.length]}`, k: 5 });
    times.push(performance.now() - at);
  }
  times.sort((a, b) => a - b);
  console.log(`${name}: ${count} memories; remember ${(writeMs / count).toFixed(2)} ms each; recall (agent scope, ${count} rows) p50 ${times[20]!.toFixed(1)} ms, p90 ${times[36]!.toFixed(1)} ms`);
  await store.close();
}
const count = Number(process.argv[2] ?? 1000);
console.log(`load average ${loadavg().map((value) => value.toFixed(1)).join(' ')}`);
const embedder = createHashingEmbedder();
const database = new Database(':memory:');
await measure('SQLite + sqlite-vec', createMemoryStore({ database, embedder, index: createSqliteVecIndex({ database, dimensions: 384, name: 'v' }) }), count);
const server = await startPostgresServer();
try {
  const pg = openPostgresDatabase({ url: server.url, schema: 'bench', maxConnections: 4 });
  await measure('PostgreSQL 15 (exact scan in SQL)', createPostgresMemoryStore({ database: pg, embedder }), count);
  await pg.close();
} finally {
  await server.stop();
}
