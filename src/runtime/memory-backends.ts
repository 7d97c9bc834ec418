import BetterSqlite3 from 'better-sqlite3';
import { KeelError } from '../errors/index.ts';
import { createExactScanIndex, createMemoryStore, createPostgresMemoryStore, createSqliteVecIndex } from '../memory/index.ts';
import type { Embedder, PostgresMemoryDatabase } from '../memory/index.ts';
import type { MemoryStore } from '../spec/memory-store.ts';
import { openPostgresDatabase, openSqliteDatabase } from '../store/index.ts';
import type { SqliteDatabase } from '../store/index.ts';
import { resolveKeelConfig } from './keel-config.ts';
import type { StorageConfig } from './keel-config.ts';

/** A memory store in Keel's own storage: what differs between agents (the embedder, the importance rater, ranking). */
export interface KeelMemoryStoreOptions {
  /** Vectors of one embedder only: a store refuses to be reopened with another (`invalid-config`). */
  readonly embedder: Embedder;
  /** Rates a memory's importance 1–10 when the writer gives none; otherwise 5. */
  readonly rateImportance?: (text: string, signal?: AbortSignal) => Promise<number>;
  /** How many nearest memories a recall scores. Defaults to `max(50, 5·k)`. */
  readonly candidatePool?: number;
  /** Recency decay per hour since last access. Defaults to 0.995. */
  readonly recencyDecay?: number;
  readonly clock?: { now(): number };
}

/** The database a storage kind's memory store lives in: the one its other stores already use, when there is one. */
export interface MemoryDatabases {
  readonly sqlite?: SqliteDatabase;
  readonly postgres?: PostgresMemoryDatabase;
}

// The sqlite-vec tables of memories in Keel's SQLite file: `memory_vectors_items`, `memory_vectors_vectors`, …
const sqliteVectorName = 'memory_vectors';

/**
 * The memory store of a storage kind: PostgreSQL (records, vectors and reflection state in the database's schema,
 * shared by every process on it), the SQLite file (sqlite-vec), or this process only (`:memory:` and journals given
 * directly: an in-memory SQLite database with an exact scan).
 */
export function openMemoryBackend(storage: StorageConfig, databases: MemoryDatabases, options: KeelMemoryStoreOptions): MemoryStore {
  const common = {
    embedder: options.embedder,
    ...(options.rateImportance === undefined ? {} : { rateImportance: options.rateImportance }),
    ...(options.candidatePool === undefined ? {} : { candidatePool: options.candidatePool }),
    ...(options.recencyDecay === undefined ? {} : { recencyDecay: options.recencyDecay }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  };
  switch (storage.kind) {
    case 'postgres': {
      if (databases.postgres === undefined) throw missingDatabase('postgres');
      return createPostgresMemoryStore({ database: databases.postgres, ...common });
    }
    case 'sqlite': {
      if (databases.sqlite === undefined) throw missingDatabase('sqlite');
      const database = databases.sqlite;
      return createMemoryStore({ database, index: createSqliteVecIndex({ database, dimensions: options.embedder.dimensions, name: sqliteVectorName }), ...common });
    }
    case 'memory':
    case 'given': {
      const database = new BetterSqlite3(':memory:');
      const store = createMemoryStore({ database, index: createExactScanIndex({ dimensions: options.embedder.dimensions }), ...common });
      return {
        ...store,
        async close() {
          await store.close();
          database.close();
        },
      };
    }
  }
}

/** Where a standalone memory store finds Keel's storage: as `createKeel` would, from these or the environment. */
export interface KeelMemoryLocation {
  /** Default `process.env`: KEEL_DATABASE_URL (and KEEL_DATABASE_SCHEMA), else KEEL_DB, else `.keel/keel.db`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  /** A SQLite file (or `:memory:`), as `createKeel({ database })`. */
  readonly database?: string;
  /** PostgreSQL, as `createKeel({ storage })`. */
  readonly storage?: { readonly kind: 'postgres'; readonly url: string; readonly schema?: string; readonly maxConnections?: number };
}

/**
 * A memory store in the storage `createKeel` would use with the same options and environment, for agent modules
 * that `keel run`, `keel serve` and `keel worker` load: with `KEEL_DATABASE_URL` the memories live in PostgreSQL and
 * every worker process shares them; otherwise in the SQLite file beside the sessions. The connection opens on first
 * use (a small pool of its own for PostgreSQL) and closes with the store.
 * @example
 * ```ts
 * const memory = createKeelMemoryStore({ embedder: createHashingEmbedder() });
 * export default defineAgent({ name: 'ops', instructions: '…', memory: { store: memory, recordToolResults: true } });
 * ```
 */
export function createKeelMemoryStore(options: KeelMemoryStoreOptions & KeelMemoryLocation): MemoryStore {
  const { storage } = resolveKeelConfig({
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.database === undefined ? {} : { database: options.database }),
    ...(options.storage === undefined ? {} : { storage: options.storage }),
  });
  if (storage.kind === 'postgres') {
    const database = openPostgresDatabase({ url: storage.url, ...(storage.schema === undefined ? {} : { schema: storage.schema }), maxConnections: storage.maxConnections ?? 4 });
    const store = openMemoryBackend(storage, { postgres: database }, options);
    return { ...store, close: () => closeBoth(store, () => database.close()) };
  }
  if (storage.kind === 'sqlite') {
    // Opened as the session store opens it: folder 0700, file 0600, WAL.
    const database = openSqliteDatabase({ path: storage.path });
    const store = openMemoryBackend(storage, { sqlite: database }, options);
    return { ...store, close: () => closeBoth(store, async () => void database.close()) };
  }
  return openMemoryBackend(storage, {}, options);
}

function missingDatabase(kind: string): KeelError {
  return new KeelError('internal', `A memory store of the ${kind} storage kind was asked for without the ${kind} database it lives in.`);
}

async function closeBoth(store: MemoryStore, closeDatabase: () => Promise<void>): Promise<void> {
  try {
    await store.close();
  } finally {
    await closeDatabase();
  }
}
