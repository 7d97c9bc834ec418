import { afterAll, beforeAll } from 'vitest';
import { createPostgresJournal, createPostgresStore } from '../../../src/store/postgres/index.ts';
import type { PostgresStore } from '../../../src/store/postgres/index.ts';
import type { Journal } from '../../../src/spec/journal.ts';
import { describeJournalContract } from '../../../src/testing/contracts/journal.contract.ts';
import { startPostgresServer, type PostgresServerProcess } from '../../helpers/postgres-server.ts';

// One cluster for the file; each store gets a schema of its own, so every test starts empty.
let server: PostgresServerProcess;
let url: string;
let schemas = 0;
beforeAll(async () => {
  server = await startPostgresServer();
  url = server.url;
}, 60_000);
afterAll(async () => {
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
