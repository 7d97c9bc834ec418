import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isKeelError } from '../../src/errors/index.ts';
import { createPostgresExactIndex } from '../../src/memory/postgres-exact-index.ts';
import { describeVectorIndexContract } from '../../src/testing/contracts/vector-index.contract.ts';
import { startPostgresServer, type PostgresServerProcess } from '../helpers/postgres-server.ts';

// The exact-scan vector index on a real PostgreSQL server without pgvector (Debian's): one server, a table per test.
let server: PostgresServerProcess;
let pool: pg.Pool;
let tables = 0;
beforeAll(async () => {
  server = await startPostgresServer();
  pool = new pg.Pool({ connectionString: server.url, max: 4 });
  // pool.end() resolves once its clients are handed to client.end(), before their sockets close: the server's fast
  // shutdown that follows can still reach one, and an unheard pool 'error' would fail the run as unhandled.
  pool.on('error', () => undefined);
}, 60_000);
afterAll(async () => {
  await pool.end();
  await server.stop();
});

describeVectorIndexContract('exact scan in PostgreSQL', (dimensions) => {
  tables += 1;
  return createPostgresExactIndex({ client: pool, dimensions, table: `vectors_${tables}` });
});

describe('PostgreSQL exact-scan index', () => {
  it('runs where the server has no pgvector', async () => {
    const extensions = await pool.query("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'");
    expect(extensions.rowCount).toBe(0);
  });

  it('refuses to open a table of another dimension, and a second handle sees the first one\'s vectors', async () => {
    const first = await createPostgresExactIndex({ client: pool, dimensions: 3, table: 'fixed_dimension' });
    await first.upsert([{ id: 'a', vector: [1, 0, 0], metadata: { agent: 'x' } }]);
    const error = await createPostgresExactIndex({ client: pool, dimensions: 4, table: 'fixed_dimension' }).catch((reason: unknown) => reason);
    expect(isKeelError(error, 'invalid-config')).toBe(true);
    const second = await createPostgresExactIndex({ client: pool, dimensions: 3, table: 'fixed_dimension' });
    expect(await second.search([1, 0, 0], 1)).toEqual([{ id: 'a', score: 1, metadata: { agent: 'x' } }]);
  });

  it('scores a zero vector 0 instead of dividing by zero', async () => {
    const index = await createPostgresExactIndex({ client: pool, dimensions: 2, table: 'zero_vectors' });
    await index.upsert([{ id: 'zero', vector: [0, 0] }, { id: 'unit', vector: [0, 1] }]);
    expect(await index.search([0, 1], 2)).toEqual([
      { id: 'unit', score: 1, metadata: {} },
      { id: 'zero', score: 0, metadata: {} },
    ]);
  });
});
