import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll } from 'vitest';
import {
  createPostgresAuditLog,
  createPostgresCallLog,
  createPostgresIdempotencyStore,
  pgliteDatabase,
} from '../../../src/store/postgres/index.ts';
import type { PostgresDatabase } from '../../../src/store/postgres/index.ts';
import { describeAuditLogContract } from '../../../src/testing/contracts/audit-log.contract.ts';
import { describeCallLogContract } from '../../../src/testing/contracts/call-log.contract.ts';
import { describeIdempotencyStoreContract } from '../../../src/testing/contracts/idempotency-store.contract.ts';

// The PostgreSQL audit log, idempotency store and call log on PGlite (PostgreSQL in WebAssembly, in this process): one instance for the file, since
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
  return pgliteDatabase(instance, { schema: `pglite_logs_${schemas}` });
}

describeAuditLogContract('pglite', (clock) => createPostgresAuditLog({ database: fresh(), clock }));
describeIdempotencyStoreContract('pglite', () => {
  const store = createPostgresIdempotencyStore({ database: fresh() });
  return [store, store];
});
describeCallLogContract('pglite', (clock) => {
  const database = fresh();
  return { audit: createPostgresCallLog({ database, channel: 'audit', clock }), sampled: createPostgresCallLog({ database, channel: 'sampled', clock }) };
});
