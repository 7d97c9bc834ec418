import type { AuditLog } from '../spec/audit-log.ts';
import type { CallLogChannel, CallLogStore } from '../spec/call-log.ts';
import type { Clock } from '../spec/clock.ts';
import type { IdempotencyStore } from '../spec/idempotency.ts';
import type { BlobStore, Journal } from '../spec/journal.ts';
import type { SessionLeaseStore } from '../spec/session-lease.ts';
import {
  createAuditSigner,
  createMemoryAuditLog,
  createMemoryBlobStore,
  createMemoryCallLog,
  createMemoryIdempotencyStore,
  createMemoryJournal,
  createMemorySessionLeaseStore,
  createSqliteAuditLog,
  createSqliteCallLog,
  createSqliteIdempotencyStore,
  createSqliteStore,
  createPostgresAuditLog,
  createPostgresCallLog,
  createPostgresIdempotencyStore,
  createPostgresStore,
} from '../store/index.ts';
import type { KeelConfig, LimitStoreConfig, StorageConfig } from './keel-config.ts';
import { createMemoryLimitStore, createRedisLimitStore } from '../model/index.ts';
import type { ProviderLimitStore } from '../spec/provider-limits.ts';
import type { KeelOptions } from './keel-options.ts';
import type { MemoryStore } from '../spec/memory-store.ts';
import { openMemoryBackend } from './memory-backends.ts';
import type { KeelMemoryStoreOptions, MemoryDatabases } from './memory-backends.ts';

/** Everything a Keel instance stores, behind the ports of spec/, from one backend. */
export interface Backends {
  /** The database file, or null when nothing is kept on disk by Keel. */
  readonly databasePath: string | null;
  readonly journal: Journal;
  readonly blobs: BlobStore;
  readonly audit: AuditLog;
  readonly idempotency: IdempotencyStore;
  readonly leases: SessionLeaseStore;
  /** A call log of the given channel in the same backend (the sampled texts live beside the journal). */
  callLog(channel: CallLogChannel): CallLogStore;
  /**
   * Where full prompts and responses go when no access-controlled file is configured, for a backend that keeps them
   * durably and under its own access control (PostgreSQL: a table the database's grants protect).
   */
  readonly durableAuditCallLog?: () => CallLogStore;
  /**
   * A memory store in the same storage: PostgreSQL tables shared by every process on the database, the SQLite file
   * (sqlite-vec), or this process only. Closed with the backends.
   */
  memoryStore(options: KeelMemoryStoreOptions): MemoryStore;
  /** Closes what this factory opened; what the caller passed in stays open. */
  close(): Promise<void>;
}

/** Memory stores opened in one backend's database, closed before it. */
function memoryStores(storage: StorageConfig, databases: MemoryDatabases): { open(options: KeelMemoryStoreOptions): MemoryStore; close(): Promise<void> } {
  const opened: MemoryStore[] = [];
  return {
    open(options) {
      const store = openMemoryBackend(storage, databases, options);
      opened.push(store);
      return store;
    },
    async close() {
      for (const store of opened.splice(0)) await store.close();
    },
  };
}

type BackendFactory<Kind extends StorageConfig['kind']> = (storage: Extract<StorageConfig, { kind: Kind }>, config: KeelConfig, options: KeelOptions) => Backends;

/**
 * One factory per kind of storage. A backend given directly in the options (audit log, idempotency store, leases)
 * always wins over the factory's own: nothing passed is silently replaced.
 */
const factories: { readonly [Kind in StorageConfig['kind']]: BackendFactory<Kind> } = {
  sqlite(storage, config, options) {
    const { synchronous, backgroundCheckpoints } = storage;
    const store = createSqliteStore({ path: storage.path, ...(synchronous === undefined ? {} : { synchronous }), ...(backgroundCheckpoints === undefined ? {} : { backgroundCheckpoints }) });
    const signer = config.auditSigningKey === undefined ? {} : { signer: createAuditSigner(config.auditSigningKey) };
    const audit = options.auditLog ?? createSqliteAuditLog({ database: store.database, ...signer });
    const memory = memoryStores(storage, { sqlite: store.database });
    return {
      databasePath: storage.path,
      journal: store.journal,
      blobs: store.blobs,
      audit,
      idempotency: options.idempotency ?? createSqliteIdempotencyStore(store.database, storage.path),
      leases: options.leases ?? store.leases,
      callLog: (channel) => createSqliteCallLog({ database: store.database, channel, clock: config.clock }),
      memoryStore: (memoryOptions) => memory.open({ clock: config.clock, ...memoryOptions }),
      async close() {
        await memory.close();
        if (options.auditLog === undefined) await audit.close();
        await store.close();
      },
    };
  },
  postgres(storage, config, options) {
    const pool = storage.maxConnections === undefined ? {} : { maxConnections: storage.maxConnections };
    const store = createPostgresStore({ url: storage.url, ...(storage.schema === undefined ? {} : { schema: storage.schema }), ...pool, clock: config.clock });
    const { database } = store;
    const signer = config.auditSigningKey === undefined ? {} : { signer: createAuditSigner(config.auditSigningKey) };
    const audit = options.auditLog ?? createPostgresAuditLog({ database, clock: config.clock, ...signer });
    const idempotency = createPostgresIdempotencyStore({ database });
    const callLog = (channel: CallLogChannel): CallLogStore => createPostgresCallLog({ database, channel, clock: config.clock });
    const memory = memoryStores(storage, { postgres: database });
    return {
      databasePath: null,
      journal: store.journal,
      blobs: store.blobs,
      audit,
      idempotency: options.idempotency ?? idempotency,
      leases: options.leases ?? store.leases,
      callLog,
      durableAuditCallLog: () => callLog('audit'),
      memoryStore: (memoryOptions) => memory.open({ clock: config.clock, ...memoryOptions }),
      async close() {
        await memory.close();
        if (options.auditLog === undefined) await audit.close();
        await idempotency.close();
        await store.close();
      },
    };
  },
  memory(storage, config, options) {
    return inProcess({ storage, journal: createMemoryJournal(), blobs: createMemoryBlobStore(), clock: config.clock, options, ownsJournal: true });
  },
  given(storage, config, options) {
    return inProcess({ storage, journal: storage.journal, blobs: storage.blobs, clock: config.clock, options, ownsJournal: false });
  },
};

interface InProcessParts {
  readonly storage: StorageConfig;
  readonly journal: Journal;
  readonly blobs: BlobStore;
  readonly clock: Clock;
  readonly options: KeelOptions;
  readonly ownsJournal: boolean;
}

function inProcess(parts: InProcessParts): Backends {
  const { options, clock } = parts;
  const audit = options.auditLog ?? createMemoryAuditLog({ clock });
  const leases = options.leases ?? createMemorySessionLeaseStore({ clock });
  const memory = memoryStores(parts.storage, {});
  return {
    databasePath: null,
    journal: parts.journal,
    blobs: parts.blobs,
    audit,
    idempotency: options.idempotency ?? createMemoryIdempotencyStore(),
    leases,
    callLog: (channel) => createMemoryCallLog({ channel, clock }),
    memoryStore: (memoryOptions) => memory.open({ clock, ...memoryOptions }),
    async close() {
      await memory.close();
      if (options.leases === undefined) await leases.close();
      if (options.auditLog === undefined) await audit.close();
      if (parts.ownsJournal) {
        await parts.journal.close();
        await parts.blobs.close();
      }
    },
  };
}

export function createBackends(config: KeelConfig, options: KeelOptions): Backends {
  const storage = config.storage;
  switch (storage.kind) {
    case 'sqlite':
      return factories.sqlite(storage, config, options);
    case 'postgres':
      return factories.postgres(storage, config, options);
    case 'memory':
      return factories.memory(storage, config, options);
    case 'given':
      return factories.given(storage, config, options);
  }
}

/** The model limiter's store: Redis when a URL is configured, in this process otherwise; null when the limiter is off. */
export function createLimitStore(config: LimitStoreConfig): { readonly store: ProviderLimitStore; readonly owned: boolean } | null {
  switch (config.kind) {
    case 'off':
      return null;
    case 'memory':
      return { store: createMemoryLimitStore(), owned: true };
    case 'redis':
      return { store: createRedisLimitStore({ url: config.url }), owned: true };
    case 'given':
      return { store: config.store, owned: false };
  }
}
