import type { Clock } from '../../spec/clock.ts';
import type { BlobStore, Journal } from '../../spec/journal.ts';
import type { SessionLeaseStore } from '../../spec/session-lease.ts';
import type { EncryptionOptions } from '../encryption.ts';
import { createPostgresBlobStore } from './postgres-blob-store.ts';
import type { PostgresDatabase } from './postgres-database.ts';
import { createPostgresJournal } from './postgres-journal.ts';
import { createPostgresSessionLeaseStore } from './postgres-session-lease.ts';
import { databaseOf } from './postgres-options.ts';
import type { PostgresStoreTarget } from './postgres-options.ts';

export type PostgresStoreOptions = PostgresStoreTarget & {
  readonly clock?: Pick<Clock, 'now'>;
  /** Encrypts event bodies and blobs at rest (AES-256-GCM), as the SQLite store does; see docs/storage.md. */
  readonly encryption?: EncryptionOptions | false;
};

export interface PostgresStore {
  readonly journal: Journal;
  readonly blobs: BlobStore;
  /** One writer per session: take a session's lease here before appending to it. */
  readonly leases: SessionLeaseStore;
  /** The pool the three share; give it to `createPostgresAuditLog`, `createPostgresIdempotencyStore`, … to share it too. */
  readonly database: PostgresDatabase;
  /** Closes the three stores and, when the store opened it from a URL, the pool. */
  close(): Promise<void>;
}

/**
 * Journal, blobs and session leases in one PostgreSQL database, sharing one connection pool: the backend for
 * several processes or hosts running sessions side by side. Returns at once; the tables are created or migrated
 * on first use (every operation waits for it). `openPostgresStore` does the same and waits for the migration.
 * To run sessions on PostgreSQL, `createKeel({ storage: { kind: 'postgres', url } })` opens this store together with
 * the idempotency store and audit log in the same database. Given the parts one by one, give those two as well:
 * without them a Keel records tool outcomes and audit records in memory, lost with the process.
 * @example
 * ```ts
 * const store = await openPostgresStore({ url: process.env.KEEL_DATABASE_URL! });
 * const keel = createKeel({
 *   journal: store.journal,
 *   blobs: store.blobs,
 *   leases: store.leases,
 *   idempotency: createPostgresIdempotencyStore({ database: store.database }),
 *   auditLog: createPostgresAuditLog({ database: store.database }),
 * });
 * await keel.run(agent, 'Where is order 1042?').result;
 * await keel.close();
 * await store.close();
 * ```
 */
export function createPostgresStore(options: PostgresStoreOptions): PostgresStore {
  const { database, owned } = databaseOf(options);
  const shared = { database };
  const clock = options.clock === undefined ? {} : { clock: options.clock };
  const encryption = options.encryption === undefined ? {} : { encryption: options.encryption };
  const journal = createPostgresJournal({ ...shared, ...encryption });
  const blobs = createPostgresBlobStore({ ...shared, ...clock, ...encryption });
  const leases = createPostgresSessionLeaseStore({ ...shared, ...clock });
  let closed: Promise<void> | undefined;
  return {
    journal,
    blobs,
    leases,
    database,
    close() {
      closed ??= (async () => {
        await journal.close();
        await blobs.close();
        await leases.close();
        if (owned) await database.close();
      })();
      return closed;
    },
  };
}

/** `createPostgresStore`, after its tables exist: a wrong URL, credentials or privileges fail here, not at the first run. */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const store = createPostgresStore(options);
  try {
    await store.journal.lastSeq('keel-connection-check');
    await store.blobs.get('keel-connection-check');
    await store.leases.current('keel-connection-check');
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}
