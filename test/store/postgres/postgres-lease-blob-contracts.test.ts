import { afterAll, beforeAll } from 'vitest';
import { createPostgresBlobStore, createPostgresSessionLeaseStore, openPostgresDatabase } from '../../../src/store/postgres/index.ts';
import type { PostgresDatabase } from '../../../src/store/postgres/index.ts';
import { describeBlobStoreContract } from '../../../src/testing/contracts/blob-store.contract.ts';
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
  return `lease_blob_${schemas}`;
}

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
