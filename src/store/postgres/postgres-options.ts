import { KeelError } from '../../errors/index.ts';
import { openPostgresDatabase } from './postgres-database.ts';
import type { PostgresConnectionOptions, PostgresDatabase } from './postgres-database.ts';

/**
 * Where a PostgreSQL store keeps its tables: a URL (the store opens its own pool and closes it), or a database
 * shared with other stores (`openPostgresDatabase`, `pgliteDatabase`), which the store leaves open.
 */
export type PostgresStoreTarget = PostgresConnectionOptions | { readonly database: PostgresDatabase };

export function databaseOf(target: PostgresStoreTarget): { readonly database: PostgresDatabase; readonly owned: boolean } {
  if ('database' in target) return { database: target.database, owned: false };
  return { database: openPostgresDatabase(target), owned: true };
}

export function closedStoreError(store: string, database: PostgresDatabase): KeelError {
  return new KeelError('storage-failure', `The ${store} on the ${database.description} is closed.`, { retryable: false, details: { database: database.description } });
}
