import { afterAll, beforeAll } from 'vitest';
import { createPostgresBlobStore, createPostgresJournal, createPostgresSessionLeaseStore, createPostgresStore, openPostgresDatabase } from '../../../src/store/postgres/index.ts';
import type { PostgresDatabase, PostgresStore } from '../../../src/store/postgres/index.ts';
import type { Journal } from '../../../src/spec/journal.ts';
import { describeBlobStoreContract } from '../../../src/testing/contracts/blob-store.contract.ts';
import { describeJournalContract } from '../../../src/testing/contracts/journal.contract.ts';
import { describeSessionLeaseContract } from '../../../src/testing/contracts/session-lease.contract.ts';
import { startPostgresServer, type PostgresServerProcess } from '../../helpers/postgres-server.ts';

// One cluster for the file; each store gets a schema of its own, so every test starts empty.
let server: PostgresServerProcess;
let url: string;
let schemas = 0;
const databases: PostgresDatabase[] = [];
beforeAll(async () => {
  server = await startPostgresServer();
  url = server.url;
}, 60_000);
afterAll(async () => {
  for (const database of databases) await database.close();
  await server.stop();
});
function freshSchema(): string {
  schemas += 1;
  return `contract_${schemas}`;
}

describeJournalContract('postgres (own pool)', () => createPostgresJournal({ url, schema: freshSchema(), maxConnections: 4 }));
const storesByJournal = new Map<Journal, PostgresStore>();
describeJournalContract(
  'postgres store sharing its pool with blobs and leases',
  () => {
    const store = createPostgresStore({ url, schema: freshSchema(), maxConnections: 4 });
    storesByJournal.set(store.journal, store);
    return store.journal;
  },
  (journal) => storesByJournal.get(journal)?.close(),
);
describeBlobStoreContract('postgres (own pool)', () => createPostgresBlobStore({ url, schema: freshSchema(), maxConnections: 2 }));
describeSessionLeaseContract('postgres, two pools on one schema (two processes)', (clock) => {
  const schema = freshSchema();
  return [
    createPostgresSessionLeaseStore({ url, schema, clock, maxConnections: 2 }),
    createPostgresSessionLeaseStore({ url, schema, clock, maxConnections: 2 }),
  ];
});
describeSessionLeaseContract('postgres, one shared database', (clock) => {
  const database = openPostgresDatabase({ url, schema: freshSchema(), maxConnections: 2 });
  databases.push(database);
  const store = createPostgresSessionLeaseStore({ database, clock });
  return [store, store];
});
