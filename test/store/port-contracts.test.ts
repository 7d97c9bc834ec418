import { afterAll } from 'vitest';
import {
  createMemoryAuditLog,
  createMemoryCallLog,
  createMemoryIdempotencyStore,
  createSqliteAuditLog,
  createSqliteCallLog,
  createSqliteIdempotencyStore,
  openSqliteDatabase,
} from '../../src/store/index.ts';
import { describeAuditLogContract } from '../../src/testing/contracts/audit-log.contract.ts';
import { describeCallLogContract } from '../../src/testing/contracts/call-log.contract.ts';
import { describeIdempotencyStoreContract } from '../../src/testing/contracts/idempotency-store.contract.ts';
import type { IdempotencyStore } from '../../src/store/index.ts';
import type { SqliteDatabase } from '../../src/store/index.ts';
import { createTemporaryFolders } from './temporary-folder.ts';

// The audit log, idempotency and call log contracts on the memory and SQLite backends: the reference behaviour
// the PostgreSQL backends (test/store/postgres/) are held to.
const folders = createTemporaryFolders();
const databases = new Map<IdempotencyStore, SqliteDatabase>();
afterAll(() => folders.removeAll());

describeAuditLogContract('memory', (clock) => createMemoryAuditLog({ clock }));
describeAuditLogContract('sqlite file', (clock) => createSqliteAuditLog({ path: folders.databasePath(), clock, checkpointPath: false }));

describeIdempotencyStoreContract('memory', () => {
  const store = createMemoryIdempotencyStore();
  return [store, store];
});
describeIdempotencyStoreContract(
  'sqlite file, two connections',
  () => {
    const path = folders.databasePath();
    const stores = [0, 1].map(() => {
      const database = openSqliteDatabase({ path });
      const store = createSqliteIdempotencyStore(database, path);
      databases.set(store, database);
      return store;
    });
    return [stores[0]!, stores[1]!];
  },
  (store) => {
    databases.get(store)?.close();
  },
);

describeCallLogContract('memory', (clock) => ({ audit: createMemoryCallLog({ channel: 'audit', clock }), sampled: createMemoryCallLog({ channel: 'sampled', clock }) }));
describeCallLogContract('sqlite file', (clock) => {
  const path = folders.databasePath();
  return { audit: createSqliteCallLog({ path, channel: 'audit', clock }), sampled: createSqliteCallLog({ path, channel: 'sampled', clock }) };
});
