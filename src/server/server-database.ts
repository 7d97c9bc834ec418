import type { SessionLeaseStore } from '../spec/session-lease.ts';
import { createSqliteSessionLeaseStore, migrate, openSqliteDatabase, toStorageFailure } from '../store/index.ts';
import type { Migration, SqliteDatabase } from '../store/index.ts';
import { createPostgresSessionLeaseStore, openPostgresDatabase } from '../store/postgres/index.ts';
import { createApiKeyStore } from './api-keys.ts';
import type { ApiKeyStore } from './api-keys.ts';
import { createPostgresApiKeyStore, createPostgresSessionOwners, postgresServerQueries } from './postgres-server-tables.ts';
import { createSessionOwners } from './session-owners.ts';
import type { SessionOwners } from './session-owners.ts';

/**
 * The server's own tables, in the same database as the journal, on their own version line (`server` in
 * `schema_migrations`): API keys (hashes only) and the tenant that owns each session the API started.
 */
export const serverMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'api_keys_and_session_owners',
    sql: `
      CREATE TABLE server_api_keys (
        id TEXT PRIMARY KEY,
        hash TEXT NOT NULL,
        name TEXT NOT NULL,
        tenant TEXT NOT NULL,
        roles TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        created_by TEXT,
        revoked_at INTEGER,
        last_used_at INTEGER
      ) WITHOUT ROWID;
      CREATE TABLE server_sessions (
        session_id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        agent TEXT NOT NULL,
        key_id TEXT,
        priority TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        ended_status TEXT
      ) WITHOUT ROWID;
      CREATE INDEX server_sessions_by_tenant ON server_sessions (tenant, created_at DESC, session_id DESC);
    `,
  },
];

/** Opens the server tables in `path` (the journal's database file), or in a private in-memory database for `:memory:`. */
export function openServerDatabase(path: string | null): SqliteDatabase {
  const database = openSqliteDatabase({ path: path ?? ':memory:' });
  try {
    migrate(database, 'server', serverMigrations);
    // Writes retry in `writeWhenFree` instead of blocking the thread in SQLite's busy wait.
    database.pragma('busy_timeout = 0');
  } catch (error) {
    database.close();
    throw error;
  }
  return database;
}

const busyRetryLimitMs = 5_000;

/**
 * Runs a write on the server's connection, retrying while the database is locked. The journal's connection in this
 * same process holds its write lock until the event loop's check phase (group commit), so a synchronous busy wait
 * here could never see it released: each retry yields to the event loop first.
 */
export async function writeWhenFree<T>(database: SqliteDatabase, work: () => T): Promise<T> {
  const deadline = Date.now() + busyRetryLimitMs;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return work();
    } catch (error) {
      const code = (error as { code?: string }).code;
      if ((code !== 'SQLITE_BUSY' && code !== 'SQLITE_LOCKED') || Date.now() > deadline) {
        if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') throw toStorageFailure(error, { path: database.name, action: 'writing the server tables (the database stayed locked)' });
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(25, 1 + attempt)));
    }
  }
}

/** Where the server keeps its keys and session owners: a SQLite file, or a PostgreSQL database. */
export type ServerDatabaseTarget =
  | string
  | {
      /** `postgres://user:password@host:5432/database`: the database of the runtime's PostgreSQL storage. */
      readonly url: string;
      /** The schema of the tables; default `public` (use the runtime's `KEEL_DATABASE_SCHEMA`). */
      readonly schema?: string;
      /** Connections of the server's own pool; default 4. */
      readonly maxConnections?: number;
    };

/** The server's tables, wherever they are, with what readiness and session views need. */
export interface ServerTables {
  readonly keys: ApiKeyStore;
  readonly owners: SessionOwners;
  /** Session leases, to tell a session another process runs from an interrupted one; null when they are elsewhere. */
  readonly leases: Pick<SessionLeaseStore, 'current'> | null;
  /** Resolves when the database answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Opens the server's tables: in `target` (a SQLite file, or PostgreSQL), else in the journal's SQLite file
 * (`journalPath`), else in memory. The lease table is read where the journal's leases are: in the journal's SQLite
 * file, or in the PostgreSQL database when the tables are there.
 */
export function openServerTables(target: ServerDatabaseTarget | undefined, journalPath: string | null, now: () => number): ServerTables {
  if (target !== undefined && typeof target !== 'string') {
    const database = openPostgresDatabase({ url: target.url, maxConnections: target.maxConnections ?? 4, ...(target.schema === undefined ? {} : { schema: target.schema }) });
    const run = postgresServerQueries(database);
    const leases = createPostgresSessionLeaseStore({ database });
    return {
      keys: createPostgresApiKeyStore(database, run, now),
      owners: createPostgresSessionOwners(database, run),
      leases,
      ping: () => run('checking the database', async () => void (await database.query('SELECT 1'))),
      async close() {
        await leases.close();
        await database.close();
      },
    };
  }
  const database = openServerDatabase(target ?? journalPath);
  const leases = target === undefined && journalPath !== null ? createSqliteSessionLeaseStore({ database }) : null;
  return {
    keys: createApiKeyStore(database, now),
    owners: createSessionOwners(database),
    leases,
    ping: async () => void database.prepare('SELECT 1').get(),
    async close() {
      await leases?.close();
      database.close();
    },
  };
}
