import BetterSqlite3 from 'better-sqlite3';
import type Database from 'better-sqlite3';
import { KeelError } from '../errors/index.ts';

export type SqliteDatabase = Database.Database;

export interface Migration {
  /** From 1, without gaps; a released migration never changes, the next change is a new version. */
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * The migration scheme of `store/sqlite-database.ts` (memory/ is level 1 and may not import store/): each component
 * has its own version line in the shared `schema_migrations` table, and pending migrations run in one IMMEDIATE
 * transaction, so two processes opening a fresh file at once serialise and the second finds the work done.
 */
export function migrate(database: SqliteDatabase, component: string, migrations: readonly Migration[]): readonly number[] {
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new KeelError('internal', `Migrations of ${component} must be numbered 1, 2, 3… in order; position ${index + 1} has version ${migration.version}.`);
    }
  });
  const apply = database.transaction((): number[] => {
    database.exec(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
        component TEXT NOT NULL,
        version INTEGER NOT NULL,
        name TEXT NOT NULL,
        applied_at INTEGER NOT NULL,
        PRIMARY KEY (component, version)
      ) WITHOUT ROWID`,
    );
    const record = database.prepare('INSERT INTO schema_migrations (component, version, name, applied_at) VALUES (?, ?, ?, ?)');
    const appliedNow: number[] = [];
    for (const migration of pendingMigrations(database, component, migrations)) {
      database.exec(migration.sql);
      record.run(component, migration.version, migration.name, Date.now());
      appliedNow.push(migration.version);
    }
    return appliedNow;
  });
  try {
    if (pendingMigrations(database, component, migrations).length === 0) return [];
    return apply.immediate();
  } catch (error) {
    throw toStorageFailure(error, `migrating the ${component} tables in ${database.name}`);
  }
}

function pendingMigrations(database: SqliteDatabase, component: string, migrations: readonly Migration[]): readonly Migration[] {
  const tableExists = database.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get() !== undefined;
  const applied = new Set(
    tableExists ? database.prepare<[string], number>('SELECT version FROM schema_migrations WHERE component = ?').pluck().all(component) : [],
  );
  const newest = Math.max(0, ...applied);
  const latest = migrations.at(-1)?.version ?? 0;
  if (newest > latest) {
    throw new KeelError(
      'storage-failure',
      `The ${component} tables in ${database.name} are at schema version ${newest}, newer than this Keel knows (${latest}). Upgrade Keel to use this database.`,
      { retryable: false, details: { path: database.name, component, databaseVersion: newest, knownVersion: latest } },
    );
  }
  return migrations.filter((migration) => !applied.has(migration.version));
}

/** Wraps a SQLite failure as `storage-failure` (retryable only when the database was busy), keeping KeelErrors as they are. */
export function toStorageFailure(error: unknown, action: string): KeelError {
  if (error instanceof KeelError) return error;
  const code = (error as { code?: unknown }).code;
  const busy = code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
  return new KeelError('storage-failure', `SQLite failed while ${action}: ${error instanceof Error ? error.message : String(error)}`, {
    cause: error,
    retryable: busy,
    details: { action, sqliteCode: typeof code === 'string' ? code : undefined },
  });
}

const identifierPattern = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** Table names are interpolated into SQL, so they must be plain identifiers. */
export function checkIdentifier(value: string, option: string): void {
  if (!identifierPattern.test(value)) throw new KeelError('invalid-config', `${option} "${value}" must match ${identifierPattern}.`);
}

/** Either a database the caller owns or a path the component opens (WAL, 5 s busy timeout) and closes. */
export function openOwnedDatabase(options: { readonly database?: SqliteDatabase; readonly path?: string }, component: string): { database: SqliteDatabase; owned: boolean } {
  if ((options.database === undefined) === (options.path === undefined)) {
    throw new KeelError('invalid-config', `${component} needs exactly one of \`database\` or \`path\`.`);
  }
  if (options.database !== undefined) return { database: options.database, owned: false };
  try {
    const database = new BetterSqlite3(options.path as string, { timeout: 5_000 });
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = NORMAL');
    return { database, owned: true };
  } catch (error) {
    throw toStorageFailure(error, `opening ${options.path} for ${component}`);
  }
}
