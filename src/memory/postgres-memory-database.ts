import { KeelError } from '../errors/index.ts';
import { diagnosePostgresError } from '../util/postgres-error-diagnosis.ts';
import { applySqlMigrations, sqlSchemaVersion } from '../util/sql-migrations.ts';

/*
 * What the PostgreSQL memory store needs of a database. memory/ and store/ are both level 1 and may not import each
 * other, so these are structural twins of store/postgres's `PostgresDatabase`: a database from `openPostgresDatabase`
 * or `pgliteDatabase` is one of these. Both migrate with the runner in util/, so the memory tables share the
 * database's `schema_migrations` table and migration lock, with `memory` as their component.
 */

// A `pg` pool or PGlite as `openPostgresDatabase` and `pgliteDatabase` return it, under the memory store's names.
export type { SqlStatements as MemorySqlExecutor, MigratableSqlDatabase as PostgresMemoryDatabase } from '../util/sql-migrations.ts';
import type { MigratableSqlDatabase as PostgresMemoryDatabase } from '../util/sql-migrations.ts';

const memoryComponent = 'memory';

export interface MemoryMigration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * Brings the memory tables up to `upTo` (default: the latest version) with the runner of the session stores: one
 * transaction under the migration lock, so processes starting at once apply each step once. A schema newer than this
 * Keel is refused. Returns the versions applied now.
 */
export async function migrateMemoryTables(
  database: PostgresMemoryDatabase,
  migrations: readonly MemoryMigration[],
  upTo?: number,
): Promise<readonly number[]> {
  return guardedMemoryQuery(database, 'migrating the memory tables', () =>
    applySqlMigrations(database, {
      component: memoryComponent,
      migrations,
      ...(upTo === undefined ? {} : { upTo }),
      refuse: (refusal) =>
        refusal.kind === 'newer-schema'
          ? new KeelError('storage-failure', refusal.message, { retryable: false, details: refusal.details })
          : new KeelError('internal', refusal.message, { details: refusal.details }),
    }),
  );
}

/** The memory tables' schema version in this database: 0 before their first migration. */
export async function memorySchemaVersion(database: PostgresMemoryDatabase): Promise<number> {
  return guardedMemoryQuery(database, 'reading the memory schema version', () => sqlSchemaVersion(database, memoryComponent));
}

/** Runs `work`, turning what the driver throws into a `storage-failure` naming the database and the action. */
export async function guardedMemoryQuery<T>(database: PostgresMemoryDatabase, action: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof KeelError) throw error;
    const diagnosis = diagnosePostgresError(error, { database: database.description, action: `${action} in the memory store` });
    throw new KeelError('storage-failure', diagnosis.message, {
      cause: error,
      retryable: diagnosis.retryable,
      details: { database: database.description, action, ...(diagnosis.code === undefined ? {} : { code: diagnosis.code }) },
    });
  }
}
