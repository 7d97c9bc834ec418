import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { createExactScanIndex } from '../../src/memory/exact-scan-index.ts';
import { createMemoryStore } from '../../src/memory/memory-store.ts';
import type { SqliteMemoryStore } from '../../src/memory/memory-store.ts';
import { createSqliteVecIndex } from '../../src/memory/sqlite-vec-index.ts';
import { describeMemoryStoreContract } from '../../src/testing/contracts/index.ts';

const folder = mkdtempSync(join(tmpdir(), 'keel-memory-contract-'));
let files = 0;
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describeMemoryStoreContract('SQLite with sqlite-vec', ({ clock, embedder }) => {
  const database = new Database(':memory:');
  const store = createMemoryStore({ database, embedder, clock, index: createSqliteVecIndex({ database, dimensions: embedder.dimensions, name: 'memory_vectors' }) });
  return { ...store, close: async () => { await store.close(); database.close(); } };
});

// A file, so a second store on it is what another process would open: records and vectors shared through the file.
describeMemoryStoreContract(
  'SQLite file with sqlite-vec, two handles',
  ({ clock, embedder }) => {
    files += 1;
    const path = join(folder, `memory-${files}.db`);
    return createMemoryStore({ path, embedder, clock, index: createSqliteVecIndex({ path, dimensions: embedder.dimensions, name: 'memory_vectors' }) });
  },
  {
    reopen: (store, { clock, embedder }) => {
      const path = (store as SqliteMemoryStore).database.name;
      return createMemoryStore({ path, embedder, clock, index: createSqliteVecIndex({ path, dimensions: embedder.dimensions, name: 'memory_vectors' }) });
    },
  },
);

describeMemoryStoreContract('SQLite with the exact-scan index', ({ clock, embedder }) => {
  return createMemoryStore({ database: new Database(':memory:'), embedder, clock, index: createExactScanIndex({ dimensions: embedder.dimensions }) });
});
