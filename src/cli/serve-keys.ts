import { KeelError } from '../errors/index.ts';
import { createApiKeyStore } from '../server/api-keys.ts';
import type { ApiKeyStore } from '../server/api-keys.ts';
import { apiRoles } from '../server/api-schemas.ts';
import type { ApiRole } from '../server/api-schemas.ts';
import { openServerDatabase, openServerTables } from '../server/server-database.ts';
import type { DatabaseChoice } from './cli-context.ts';

/** Where `keel keys` finds the keys: the SQLite file of `keel serve`, or its PostgreSQL database. */
export type KeyStoreLocation =
  | { readonly kind: 'sqlite'; readonly database: DatabaseChoice }
  | { readonly kind: 'postgres'; readonly url: string; readonly schema: string | undefined };

/** Runs `work` with the API key table of the database, closing it after. */
export async function withKeyStore(location: KeyStoreLocation, work: (store: ApiKeyStore) => Promise<number>): Promise<number> {
  if (location.kind === 'postgres') {
    const schema = location.schema === undefined || location.schema.trim() === '' ? undefined : location.schema;
    const tables = openServerTables({ url: location.url, maxConnections: 1, ...(schema === undefined ? {} : { schema }) }, null, Date.now);
    try {
      return await work(tables.keys);
    } finally {
      await tables.close();
    }
  }
  const { database } = location;
  if (database.path === ':memory:') throw new KeelError('invalid-argument', 'API keys live in the database file `keel serve` uses; name it with --db (not :memory:).');
  const connection = openServerDatabase(database.path);
  try {
    return await work(createApiKeyStore(connection));
  } finally {
    connection.close();
  }
}

/** The roles named on the command line, each checked. */
export function validRoles(names: readonly string[]): ApiRole[] {
  const roles = names.flatMap((name) => name.split(',')).map((name) => name.trim()).filter((name) => name !== '');
  for (const role of roles) if (!apiRoles.includes(role as ApiRole)) throw new KeelError('invalid-argument', `Unknown role "${role}"; roles are ${apiRoles.join(', ')}.`);
  return roles as ApiRole[];
}
