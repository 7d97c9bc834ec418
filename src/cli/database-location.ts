import type { Command } from 'commander';
import { KeelError } from '../errors/index.ts';
import type { CliContext } from './cli-context.ts';
import { chooseDatabase, choosePostgres } from './cli-context.ts';

/** The PostgreSQL database and schema a command reads: --database-url or KEEL_DATABASE_URL, KEEL_DATABASE_SCHEMA. */
export interface PostgresLocation {
  readonly url: string;
  readonly schema: string;
}

/** A SQLite file (an existing one, never created) or a PostgreSQL database. */
export type DatabaseLocation = string | PostgresLocation;

/**
 * Where `keel check-db`, `keel audit` and `keel backup` look: `--database-url`, else KEEL_DATABASE_URL unless --db or
 * KEEL_DB names a SQLite file, else the SQLite file (--db, KEEL_DB, .keel/keel.db), which must exist.
 */
export async function chooseDatabaseLocation(context: CliContext, command: Command, databaseUrl: string | undefined): Promise<DatabaseLocation> {
  if (databaseUrl !== undefined && databaseUrl.trim() === '') throw new KeelError('invalid-argument', '--database-url must be a postgres:// URL, got an empty value.');
  const url = databaseUrl ?? choosePostgres(context, command);
  if (url !== undefined) {
    const schema = context.env.KEEL_DATABASE_SCHEMA;
    return { url, schema: schema === undefined || schema.trim() === '' ? 'public' : schema };
  }
  const { requireDatabaseFile } = await import('./read-only-store.ts');
  return requireDatabaseFile(chooseDatabase(context, command).path);
}

export const databaseUrlHelp = 'a PostgreSQL database (default KEEL_DATABASE_URL unless --db names a SQLite file; schema KEEL_DATABASE_SCHEMA)';
