import { KeelError } from '../../errors/index.ts';
import { applySqlMigrations, sqlSchemaVersion } from '../../util/sql-migrations.ts';
import type { MigrationRefusal } from '../../util/sql-migrations.ts';
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
  upTo?: number,
): Promise<readonly number[]> {
  return guardedQuery(database, `migrating the ${component} tables`, () =>
    applySqlMigrations(database, { component, migrations, ...(upTo === undefined ? {} : { upTo }), refuse: migrationRefusalError }),
  );
}

/** The component's schema version in this database: 0 before its first migration. */
export async function postgresSchemaVersion(database: PostgresDatabase, component: string): Promise<number> {
  return guardedQuery(database, `reading the ${component} schema version`, () => sqlSchemaVersion(database, component));
}

/** A migration refusal as Keel reports it: a newer schema is the operator's to fix, a misnumbered list is a bug. */
function migrationRefusalError(refusal: MigrationRefusal): KeelError {
  return refusal.kind === 'newer-schema'
    ? new KeelError('storage-failure', refusal.message, { retryable: false, details: refusal.details })
    : new KeelError('internal', refusal.message, { details: refusal.details });
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
