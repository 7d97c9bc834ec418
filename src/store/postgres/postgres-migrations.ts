import { KeelError } from '../../errors/index.ts';
import type { PostgresDatabase, SqlExecutor } from './postgres-database.ts';
import { guardedQuery } from './postgres-database.ts';

/** One numbered step of a component's schema. */
export interface PostgresMigration {
  /** From 1, without gaps; a released migration never changes, the next change is a new version. */
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  /** A data step after `sql`, in the same transaction: what SQL alone cannot compute (hashes, say). */
  readonly run?: (transaction: SqlExecutor) => Promise<void>;
}

// One key for every Keel process migrating any schema of the database: migrations are rare and short.
const migrationLockKey = 0x6b65656c; // "keel"

/**
 * Brings one component's tables (`journal`, `blobs`, …) up to `upTo` (default: the latest version). Components
 * share a schema but migrate independently, each with its own version line in `schema_migrations`. Pending
 * migrations run in one transaction under a transaction-scoped advisory lock, so processes starting at once
 * serialise and the later ones find the work done. Returns the versions applied now.
 */
export async function migratePostgres(
  database: PostgresDatabase,
  component: string,
  migrations: readonly PostgresMigration[],
  upTo: number = migrations.at(-1)?.version ?? 0,
): Promise<readonly number[]> {
  checkMigrationList(component, migrations);
  return guardedQuery(database, `migrating the ${component} tables`, () =>
    database.transaction(async (transaction) => {
      await transaction.query('SELECT pg_advisory_xact_lock($1)', [migrationLockKey]);
      await createSchemaIfMissing(transaction, database.schema);
      await transaction.exec(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
          component text NOT NULL,
          version integer NOT NULL,
          name text NOT NULL,
          applied_at bigint NOT NULL,
          PRIMARY KEY (component, version)
        )`,
      );
      const applied = await appliedVersions(transaction, component);
      const newest = Math.max(0, ...applied);
      const latest = migrations.at(-1)?.version ?? 0;
      if (newest > latest) {
        throw new KeelError(
          'storage-failure',
          `The ${component} tables in the ${database.description} are at schema version ${newest}, newer than this Keel knows (${latest}). Upgrade Keel to use this database.`,
          { retryable: false, details: { database: database.description, component, databaseVersion: newest, knownVersion: latest } },
        );
      }
      const appliedNow: number[] = [];
      for (const migration of migrations) {
        if (applied.has(migration.version) || migration.version > upTo) continue;
        await transaction.exec(migration.sql);
        await migration.run?.(transaction);
        await transaction.query('INSERT INTO schema_migrations (component, version, name, applied_at) VALUES ($1, $2, $3, $4)', [
          component,
          migration.version,
          migration.name,
          Date.now(),
        ]);
        appliedNow.push(migration.version);
      }
      return appliedNow;
    }),
  );
}

/** The component's schema version in this database: 0 before its first migration. */
export async function postgresSchemaVersion(database: PostgresDatabase, component: string): Promise<number> {
  return guardedQuery(database, `reading the ${component} schema version`, async () => {
    const table = await database.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [`${database.schema}.schema_migrations`]);
    if (table.rows[0]?.present !== true) return 0;
    const result = await database.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations WHERE component = $1', [component]);
    return Number(result.rows[0]?.version ?? 0);
  });
}

async function appliedVersions(transaction: SqlExecutor, component: string): Promise<Set<number>> {
  const result = await transaction.query<{ version: number }>('SELECT version FROM schema_migrations WHERE component = $1', [component]);
  return new Set(result.rows.map((row) => Number(row.version)));
}

/** CREATE SCHEMA needs a privilege on the database that a user of an existing schema may lack: only when missing. */
async function createSchemaIfMissing(transaction: SqlExecutor, schema: string): Promise<void> {
  const present = await transaction.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  if (present.rows.length === 0) await transaction.exec(`CREATE SCHEMA ${schema}`);
}

function checkMigrationList(component: string, migrations: readonly PostgresMigration[]): void {
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new KeelError('internal', `Migrations of ${component} must be numbered 1, 2, 3… in order; position ${index + 1} has version ${migration.version}.`);
    }
  });
}

/**
 * Migrates once per database and component however many stores share the database: every store's operations
 * await the promise this returns. A failure is kept (and marked handled) so each later operation reports it.
 */
export function migrationOnce(database: PostgresDatabase, component: string, migrations: readonly PostgresMigration[]): Promise<void> {
  let byComponent = pendingByDatabase.get(database);
  if (byComponent === undefined) {
    byComponent = new Map();
    pendingByDatabase.set(database, byComponent);
  }
  let ready = byComponent.get(component);
  if (ready === undefined) {
    ready = migratePostgres(database, component, migrations).then(() => undefined);
    // Failed migrations are retried by the next store opened on this database, not remembered forever.
    ready.catch(() => byComponent.delete(component));
    byComponent.set(component, ready);
  }
  return ready;
}

const pendingByDatabase = new WeakMap<PostgresDatabase, Map<string, Promise<void>>>();
