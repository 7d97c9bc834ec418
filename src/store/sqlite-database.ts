import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { KeelError } from '../errors/index.ts';
import { toStorageFailure } from './storage-failure.ts';

export type SqliteDatabase = Database.Database;

export interface SqliteDatabaseOptions {
  /** A file path, or `:memory:` for a private in-process database. */
  readonly path: string;
  /** How long a writer waits for another connection's lock before failing with `storage-failure`. Defaults to 5 seconds. */
  readonly busyTimeoutMs?: number;
  /**
   * Opens an existing database for reading only: nothing is created (no folder, no file) and nothing is
   * written, not even a migration. A missing file is an `invalid-argument` error naming the path.
   */
  readonly readOnly?: boolean;
  /**
   * How far a commit is on disk when it returns (SQLite's `synchronous`, in WAL mode). `normal`, the default: every
   * commit survives a crash of the process, but a power loss or an operating-system crash may undo the commits since
   * the last checkpoint (the database stays consistent: it rolls back to a commit boundary). `full`: the write-ahead
   * log is flushed to the disk (fsync) at every commit, so a commit that returned also survives a power loss, at the
   * cost of one flush per commit (group commit shares it between the sessions writing at the same time).
   * See docs/storage.md.
   */
  readonly synchronous?: SqliteSynchronous;
}

/** How far a SQLite commit is on disk when it returns: `normal` survives a process crash, `full` also a power loss. */
export type SqliteSynchronous = 'normal' | 'full';
const synchronousLevels: readonly SqliteSynchronous[] = ['normal', 'full'];

export const defaultBusyTimeoutMs = 5_000;

/**
 * Mode of a database file Keel creates: the journal holds prompts, tool inputs and outputs, so only its owner
 * may read it. SQLite gives the -wal and -shm files the database file's permissions. A folder Keel creates
 * for it is 0700. Files that already exist keep their mode; `checkDatabase` reports one readable by others.
 */
export const databaseFileMode = 0o600;
export const databaseFolderMode = 0o700;

/** Creates the folder and an empty database file with private modes, before SQLite would create them with the umask's. */
export function createPrivateDatabaseFile(path: string): void {
  const folder = dirname(path);
  if (!existsSync(folder)) mkdirSync(folder, { recursive: true, mode: databaseFolderMode });
  // 'a' never truncates, so a file another process created a moment ago is left as it is.
  if (!existsSync(path)) closeSync(openSync(path, 'a', databaseFileMode));
}

/**
 * Opens (creating if needed) a database tuned for one journal writer per session across processes:
 * WAL lets readers run beside the writer, and synchronous=NORMAL in WAL mode keeps every commit
 * atomic and durable against a process crash, at the risk of the last commits on power loss only
 * (`synchronous: 'full'` closes that window).
 */
export function openSqliteDatabase(options: SqliteDatabaseOptions): SqliteDatabase {
  const { path } = options;
  const busyTimeoutMs = options.busyTimeoutMs ?? defaultBusyTimeoutMs;
  if (!(Number.isInteger(busyTimeoutMs) && busyTimeoutMs >= 0)) {
    throw new KeelError('invalid-config', `busyTimeoutMs must be a non-negative integer of milliseconds, got ${busyTimeoutMs}.`);
  }
  const synchronous = options.synchronous ?? 'normal';
  if (!synchronousLevels.includes(synchronous)) {
    throw new KeelError('invalid-config', `synchronous must be ${synchronousLevels.map((level) => `'${level}'`).join(' or ')}, got ${String(synchronous)}.`);
  }
  if (options.readOnly === true) return openReadOnly(path, busyTimeoutMs);
  try {
    if (path !== ':memory:' && path !== '') createPrivateDatabaseFile(path);
  } catch (error) {
    throw toStorageFailure(error, { path, action: 'creating the database file with mode 0600' });
  }
  let database: SqliteDatabase | undefined;
  try {
    // `timeout` is SQLite's busy_timeout, applied before the pragmas below so that they wait too.
    database = new Database(path, { timeout: busyTimeoutMs });
    database.pragma('journal_mode = WAL');
    database.pragma(synchronous === 'full' ? 'synchronous = FULL' : 'synchronous = NORMAL');
    database.pragma('foreign_keys = ON');
    return database;
  } catch (error) {
    database?.close();
    throw toStorageFailure(error, { path, action: 'opening the database' });
  }
}

function openReadOnly(path: string, busyTimeoutMs: number): SqliteDatabase {
  if (path === ':memory:' || path === '' || !existsSync(path)) {
    throw new KeelError('invalid-argument', `No database at ${path}: pass the path of an existing Keel database (--db PATH or KEEL_DB).`, { details: { path } });
  }
  try {
    return new Database(path, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
  } catch (error) {
    throw toStorageFailure(error, { path, action: 'opening the database read-only' });
  }
}

export interface Migration {
  /** From 1, without gaps; a released migration never changes, the next change is a new version. */
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  /** A data step after `sql`, in the same transaction: what SQL alone cannot compute (hashes, say). */
  readonly run?: (database: SqliteDatabase) => void;
}

/**
 * Brings one component's tables (`journal`, `blobs`, …) up to date. Components share a database
 * but migrate independently, so each has its own version line in `schema_migrations`.
 * Pending migrations run in one IMMEDIATE transaction: two processes opening a fresh file at once
 * serialise on the write lock, and the second finds the work done. An up-to-date database is only
 * read, so opening one takes no write lock. Returns the versions applied now.
 */
export function migrate(database: SqliteDatabase, component: string, migrations: readonly Migration[]): readonly number[] {
  checkMigrationList(component, migrations);
  const action = `migrating the ${component} tables`;
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
      migration.run?.(database);
      record.run(component, migration.version, migration.name, Date.now());
      appliedNow.push(migration.version);
    }
    return appliedNow;
  });
  try {
    if (pendingMigrations(database, component, migrations).length === 0) return [];
    return apply.immediate();
  } catch (error) {
    throw toStorageFailure(error, { path: database.name, action });
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

function checkMigrationList(component: string, migrations: readonly Migration[]): void {
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new KeelError('internal', `Migrations of ${component} must be numbered 1, 2, 3… in order; position ${index + 1} has version ${migration.version}.`);
    }
  });
}
