import { KeelError } from '../errors/index.ts';

/*
 * What the PostgreSQL memory store needs of a database. memory/ and store/ are both level 1 and may not import each
 * other, so these are structural twins of store/postgres's `PostgresDatabase` and migration scheme: a database from
 * `openPostgresDatabase` or `pgliteDatabase` is one of these, and the memory tables share its `schema_migrations`
 * table and its migration lock, with `memory` as their component.
 */

/** One statement with `$1, $2, …` parameters, on a pool or inside a transaction. */
export interface MemorySqlExecutor {
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<{ readonly rows: Row[]; readonly rowCount: number }>;
  exec(script: string): Promise<void>;
}

/** A PostgreSQL database (a `pg` pool or PGlite) as `openPostgresDatabase` and `pgliteDatabase` return it. */
export interface PostgresMemoryDatabase extends MemorySqlExecutor {
  /** The database without credentials, for messages. */
  readonly description: string;
  readonly schema: string;
  transaction<T>(work: (transaction: MemorySqlExecutor) => Promise<T>): Promise<T>;
}

export interface MemoryMigration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

// The key store/postgres migrations take: every Keel component of a database migrates under one lock.
const migrationLockKey = 0x6b65656c;

/**
 * Brings the memory tables up to `upTo` (default: the latest version) in one transaction under the migration lock,
 * so processes starting at once apply each step once. A schema newer than this Keel is refused. Returns the versions
 * applied now.
 */
export async function migrateMemoryTables(
  database: PostgresMemoryDatabase,
  migrations: readonly MemoryMigration[],
  upTo: number = migrations.at(-1)?.version ?? 0,
): Promise<readonly number[]> {
  const component = 'memory';
  return guardedMemoryQuery(database, 'migrating the memory tables', () =>
    database.transaction(async (transaction) => {
      await transaction.query('SELECT pg_advisory_xact_lock($1)', [migrationLockKey]);
      const schemaPresent = await transaction.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [database.schema]);
      if (schemaPresent.rows.length === 0) await transaction.exec(`CREATE SCHEMA ${database.schema}`);
      await transaction.exec(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
          component text NOT NULL,
          version integer NOT NULL,
          name text NOT NULL,
          applied_at bigint NOT NULL,
          PRIMARY KEY (component, version)
        )`,
      );
      const result = await transaction.query<{ version: number }>('SELECT version FROM schema_migrations WHERE component = $1', [component]);
      const applied = new Set(result.rows.map((row) => Number(row.version)));
      const newest = Math.max(0, ...applied);
      const latest = migrations.at(-1)?.version ?? 0;
      if (newest > latest) {
        throw new KeelError(
          'storage-failure',
          `The memory tables in the ${database.description} are at schema version ${newest}, newer than this Keel knows (${latest}). Upgrade Keel to use this database.`,
          { retryable: false, details: { database: database.description, component, databaseVersion: newest, knownVersion: latest } },
        );
      }
      const appliedNow: number[] = [];
      for (const migration of migrations) {
        if (applied.has(migration.version) || migration.version > upTo) continue;
        await transaction.exec(migration.sql);
        await transaction.query('INSERT INTO schema_migrations (component, version, name, applied_at) VALUES ($1, $2, $3, $4)', [component, migration.version, migration.name, Date.now()]);
        appliedNow.push(migration.version);
      }
      return appliedNow;
    }),
  );
}

/** The memory tables' schema version in this database: 0 before their first migration. */
export async function memorySchemaVersion(database: PostgresMemoryDatabase): Promise<number> {
  return guardedMemoryQuery(database, 'reading the memory schema version', async () => {
    const table = await database.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [`${database.schema}.schema_migrations`]);
    if (table.rows[0]?.present !== true) return 0;
    const result = await database.query<{ version: number | null }>(`SELECT max(version) AS version FROM schema_migrations WHERE component = 'memory'`);
    return Number(result.rows[0]?.version ?? 0);
  });
}

/** Runs `work`, turning what the driver throws into a `storage-failure` naming the database and the action. */
export async function guardedMemoryQuery<T>(database: PostgresMemoryDatabase, action: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toMemoryStorageFailure(error, database.description, action);
  }
}

// Failures that heal by themselves: the server unreachable or restarting, a serialization failure or deadlock, no free
// connection slot, a statement timeout. The same classes store/postgres retries.
const retryableCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', '57P01', '57P02', '57P03', '40001', '40P01', '53300', '57014']);

function toMemoryStorageFailure(error: unknown, database: string, action: string): KeelError {
  if (error instanceof KeelError) return error;
  const code = typeof (error as { code?: unknown })?.code === 'string' ? ((error as { code: string }).code) : undefined;
  const reason = error instanceof Error ? error.message : String(error);
  const lostConnection = code === undefined && /connection terminated|connection ended|not queryable|timeout exceeded when trying to connect/i.test(reason);
  const retryable = lostConnection || (code !== undefined && (retryableCodes.has(code) || code.startsWith('08')));
  const hint = retryable ? ' Keel retries on the next operation.' : '';
  return new KeelError('storage-failure', `PostgreSQL failed${code === undefined ? '' : ` (${code})`} while ${action} in the memory store on the ${database}: ${reason}.${hint}`, {
    cause: error,
    retryable,
    details: { database, action, ...(code === undefined ? {} : { code }) },
  });
}
