import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll } from 'vitest';
import {
  createPostgresBlobStore,
  createPostgresJournal,
  createPostgresSessionLeaseStore,
  pgliteDatabase,
} from '../../../src/store/postgres/index.ts';
import type { PostgresDatabase } from '../../../src/store/postgres/index.ts';
import { describeBlobStoreContract } from '../../../src/testing/contracts/blob-store.contract.ts';
import { describeJournalContract } from '../../../src/testing/contracts/journal.contract.ts';
import { describeSessionLeaseContract } from '../../../src/testing/contracts/session-lease.contract.ts';

// The PostgreSQL journal, blob store and session leases on PGlite (PostgreSQL in WebAssembly, in this process): one instance for the file, since
// starting one takes seconds; each store gets its own schema.
let instance: PGlite;
let schemas = 0;
beforeAll(async () => {
  instance = await PGlite.create();
}, 60_000);
afterAll(async () => {
  await instance.close();
});
function fresh(): PostgresDatabase {
  schemas += 1;
  return pgliteDatabase(instance, { schema: `pglite_${schemas}` });
}

describeJournalContract('pglite', () => createPostgresJournal({ database: fresh() }));
describeBlobStoreContract('pglite', () => createPostgresBlobStore({ database: fresh() }));
describeSessionLeaseContract('pglite', (clock) => {
  const store = createPostgresSessionLeaseStore({ database: fresh(), clock });
  return [store, store];
});
