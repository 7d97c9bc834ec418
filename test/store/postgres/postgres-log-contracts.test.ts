import { afterAll, beforeAll } from 'vitest';
import { createPostgresAuditLog, createPostgresCallLog, createPostgresIdempotencyStore, openPostgresDatabase } from '../../../src/store/postgres/index.ts';
import type { PostgresDatabase } from '../../../src/store/postgres/index.ts';
import { describeAuditLogContract } from '../../../src/testing/contracts/audit-log.contract.ts';
import { describeCallLogContract } from '../../../src/testing/contracts/call-log.contract.ts';
import { describeIdempotencyStoreContract } from '../../../src/testing/contracts/idempotency-store.contract.ts';
import { startPostgresServer, type PostgresServerProcess } from '../../helpers/postgres-server.ts';

// The audit log, idempotency and call log contracts against a real PostgreSQL server; a schema per store.
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
  return `logs_${schemas}`;
}
function sharedDatabase(): PostgresDatabase {
  const database = openPostgresDatabase({ url, schema: freshSchema(), maxConnections: 3 });
  databases.push(database);
  return database;
}

describeAuditLogContract('postgres (own pool)', (clock) => createPostgresAuditLog({ url, schema: freshSchema(), clock, maxConnections: 4 }));
describeIdempotencyStoreContract('postgres, two pools on one schema (two processes)', () => {
  const schema = freshSchema();
  return [createPostgresIdempotencyStore({ url, schema, maxConnections: 2 }), createPostgresIdempotencyStore({ url, schema, maxConnections: 2 })];
});
describeCallLogContract('postgres, both channels on one shared database', (clock) => {
  const database = sharedDatabase();
  return { audit: createPostgresCallLog({ database, channel: 'audit', clock }), sampled: createPostgresCallLog({ database, channel: 'sampled', clock }) };
});
