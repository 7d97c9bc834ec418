import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgvectorIndex } from '../../src/memory/pgvector-index.ts';
import { expectKeelError } from '../../src/testing/contracts/index.ts';
import { describeVectorIndexContract } from '../../src/testing/contracts/vector-index.contract.ts';
import { isKeelError } from '../../src/errors/index.ts';

// One PGlite for the whole file: starting one takes 3–5 s. Each test gets its own table.
let database: PGlite;
let tables = 0;

beforeAll(async () => {
  database = await PGlite.create({ extensions: { vector } });
}, 60_000);

afterAll(async () => {
  await database.close();
});

describeVectorIndexContract('pgvector on PGlite', (dimensions) => {
  tables += 1;
  return createPgvectorIndex({ client: database, dimensions, table: `vectors_${tables}` });
});

describe('pgvector index', () => {
  it('refuses to open a table of another dimension', async () => {
    await createPgvectorIndex({ client: database, dimensions: 4, table: 'fixed_dimension' });
    const error = await createPgvectorIndex({ client: database, dimensions: 8, table: 'fixed_dimension' }).catch((reason: unknown) => reason);
    expect(isKeelError(error, 'invalid-config')).toBe(true);
  });

  it('reports a database failure as storage-failure', async () => {
    const index = await createPgvectorIndex({ client: database, dimensions: 2, table: 'dropped_later' });
    await database.query('DROP TABLE dropped_later');
    await expectKeelError(index.count(), 'storage-failure');
  });
});
