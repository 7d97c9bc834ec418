import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isKeelError } from '../../src/errors/index.ts';
import { createHashingEmbedder } from '../../src/memory/hashing-embedder.ts';
import { createPostgresMemoryStore } from '../../src/memory/postgres-memory-store.ts';
import type { PostgresMemoryStore } from '../../src/memory/postgres-memory-store.ts';
import { pgliteDatabase } from '../../src/store/postgres/index.ts';

// Regression tests from the adversarial probe of the PostgreSQL memory store: scope values and recall sizes that
// PostgreSQL cannot take are the caller's mistake, refused as `invalid-argument` before any query, never a storage
// failure (least of all a retryable one, which a caller would retry for ever).

let instance: PGlite;
let store: PostgresMemoryStore;
beforeAll(async () => {
  instance = await PGlite.create({ extensions: { vector } });
  store = createPostgresMemoryStore({ database: pgliteDatabase(instance, { schema: 'probe_input' }), embedder: createHashingEmbedder({ dimensions: 32 }) });
  await store.ready();
}, 60_000);
afterAll(async () => {
  await store.close();
  await instance.close();
});

async function refusal(operation: Promise<unknown>): Promise<{ code: string; retryable: boolean }> {
  try {
    await operation;
  } catch (error) {
    expect(isKeelError(error)).toBe(true);
    return { code: (error as { code: string }).code, retryable: (error as { retryable: boolean }).retryable };
  }
  throw new Error('expected the operation to be refused');
}

const refusedAsInput = { code: 'invalid-argument', retryable: false };

describe('PostgreSQL memory store inputs PostgreSQL cannot store', () => {
  it('refuses a NUL in the agent or session of a scope, when remembering and when recalling', async () => {
    expect(await refusal(store.remember({ scope: { agent: 'a\u0000b' }, text: 'x' }))).toEqual(refusedAsInput);
    expect(await refusal(store.remember({ scope: { agent: 'a', sessionId: 's\u0000' }, text: 'x' }))).toEqual(refusedAsInput);
    expect(await refusal(store.recall({ scope: { agent: 'a\u0000b' }, query: 'x' }))).toEqual(refusedAsInput);
  });

  it('refuses a scope that is not well-formed UTF-16 and leaves no memory behind', async () => {
    expect(await refusal(store.remember({ scope: { agent: 'x\uD800' }, text: 'lone surrogate' }))).toEqual(refusedAsInput);
    const { rows } = await instance.query<{ count: number }>(`SELECT count(*)::int AS count FROM probe_input.memories WHERE text = convert_to('lone surrogate', 'UTF8')`);
    expect(rows[0]?.count).toBe(0);
  });

  it('refuses a NUL in a source id', async () => {
    expect(await refusal(store.remember({ scope: { agent: 'a' }, text: 'x', sources: ['evt\u0000'] }))).toEqual(refusedAsInput);
  });

  it('refuses an agent name too long to index', async () => {
    // Incompressible, so PostgreSQL cannot squeeze it under its index row limit (8 KB).
    expect(await refusal(store.remember({ scope: { agent: randomBytes(30_000).toString('hex') }, text: 'x' }))).toEqual(refusedAsInput);
  });

  it('refuses a recall size no query can take', async () => {
    expect(await refusal(store.recall({ scope: { agent: 'a' }, query: 'x', k: 1e300 }))).toEqual(refusedAsInput);
  });
});
