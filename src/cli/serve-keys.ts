import { KeelError } from '../errors/index.ts';
import { createApiKeyStore } from '../server/api-keys.ts';
import type { ApiKeyStore } from '../server/api-keys.ts';
import { apiRoles } from '../server/api-schemas.ts';
import type { ApiRole } from '../server/api-schemas.ts';
import { openServerDatabase } from '../server/server-database.ts';
import type { DatabaseChoice } from './cli-context.ts';

/** Runs `work` with the API key table of the database, closing it after. */
export async function withKeyStore(database: DatabaseChoice, work: (store: ApiKeyStore) => Promise<number>): Promise<number> {
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
