import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHashingEmbedder } from '../../src/memory/hashing-embedder.ts';
import { createPostgresMemoryStore } from '../../src/memory/postgres-memory-store.ts';
import type { PostgresMemoryStore } from '../../src/memory/postgres-memory-store.ts';
import { pgliteDatabase } from '../../src/store/postgres/index.ts';
import { describeMemoryStoreContract } from '../../src/testing/contracts/index.ts';

// PGlite (PostgreSQL in WebAssembly) with pgvector: one instance for the file, since starting one takes seconds; each
// store gets its own schema. pgvector is installed once, in the first schema, and every later store names its type
// and operator with that schema.
let instance: PGlite;
let schemas = 0;
beforeAll(async () => {
  instance = await PGlite.create({ extensions: { vector } });
}, 60_000);
afterAll(async () => {
  await instance.close();
});
const schemaOf = new WeakMap<object, string>();

describeMemoryStoreContract(
  'PostgreSQL on PGlite with pgvector',
  ({ clock, embedder }) => {
    schemas += 1;
    const schema = `memory_${schemas}`;
    const store = createPostgresMemoryStore({ database: pgliteDatabase(instance, { schema }), embedder, clock });
    schemaOf.set(store, schema);
    return store;
  },
  { reopen: (store, { clock, embedder }) => createPostgresMemoryStore({ database: pgliteDatabase(instance, { schema: schemaOf.get(store) as string }), embedder, clock }) },
);

describe('PostgreSQL memory store on PGlite', () => {
  it('keeps vectors with pgvector when the database has it, and says so', async () => {
    const store: PostgresMemoryStore = createPostgresMemoryStore({ database: pgliteDatabase(instance, { schema: 'pglite_vectors' }), embedder: createHashingEmbedder({ dimensions: 32 }) });
    expect(await store.ready()).toBe('pgvector');
    await store.remember({ scope: { agent: 'a' }, text: 'vector kept by pgvector' });
    const { rows } = await instance.query<{ type: string }>(`SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute WHERE attrelid = 'pglite_vectors.memory_vectors'::regclass AND attname = 'embedding'`);
    expect(rows[0]?.type).toMatch(/vector\(32\)$/);
    await store.close();
  });
});
