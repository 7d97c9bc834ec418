import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { KeelError, isKeelError } from '../errors/index.ts';
import { createSqliteAuditLog, createSqliteBlobStore, createSqliteJournal, createSqliteSessionLeaseStore, openSqliteDatabase, toStorageFailure } from '../store/index.ts';
import type { AuditLog, SqliteDatabase } from '../store/index.ts';
import type { BlobStore, Journal } from '../spec/journal.ts';
import type { SessionLeaseStore } from '../spec/session-lease.ts';

/** A database opened for reading only: no folder, file, table or WAL companion is created, nothing is migrated. */
export interface ReadOnlyStore {
  readonly path: string;
  readonly database: SqliteDatabase;
  readonly journal: Journal;
  readonly blobs: BlobStore;
  /** Session leases, when the database keeps them; without them a session's liveness is unknown. */
  readonly leases: Pick<SessionLeaseStore, 'current'> | undefined;
  /** The audit log over the same connection, opened on first use (only the audit commands need it). */
  audit(): AuditLog;
  close(): Promise<void>;
}

/** Past this size a file that cannot be written is opened in place instead of being read into memory. */
const snapshotLimitBytes = 512 * 1024 * 1024;

export function openReadOnlyStore(path: string): ReadOnlyStore {
  const database = openReadOnlyDatabase(path);
  let audit: AuditLog | undefined;
  try {
    const journal = withoutMigration(path, () => createSqliteJournal({ database }));
    const blobs = withoutMigration(path, () => createSqliteBlobStore({ database }));
    return {
      path,
      database,
      journal,
      blobs,
      leases: hasTable(database, 'session_leases') ? createSqliteSessionLeaseStore({ database }) : undefined,
      audit() {
        audit ??= withoutMigration(path, () => createSqliteAuditLog({ database }));
        return audit;
      },
      async close() {
        await audit?.close();
        database.close();
      },
    };
  } catch (error) {
    database.close();
    throw error;
  }
}

/**
 * Opens the file with `readonly` and `fileMustExist`. A file this process may not write, with no write-ahead log
 * beside it, is read into memory instead: SQLite would otherwise have to create the -wal and -shm companions
 * (impossible in a read-only folder, and left behind read-only, blocking the owner's next write, in a writable one).
 */
export function openReadOnlyDatabase(path: string): SqliteDatabase {
  requireDatabaseFile(path);
  let database: SqliteDatabase | undefined;
  try {
    database = useSnapshot(path) ? new Database(snapshotOf(path), { readonly: true }) : openSqliteDatabase({ path, readOnly: true });
    if (!hasTable(database, 'schema_migrations')) throw new KeelError('invalid-argument', `${path} is an SQLite database but not a Keel one (it has no schema_migrations table); check --db.`);
    return database;
  } catch (error) {
    database?.close();
    if (isKeelError(error)) throw error;
    if ((error as { code?: unknown }).code === 'SQLITE_NOTADB') throw new KeelError('invalid-argument', `${path} is not an SQLite database; check --db.`, { cause: error });
    throw toStorageFailure(error, { path, action: 'opening the database for reading' });
  }
}

/** A database written before a component existed has no table for it; a reader then goes without that component. */
function hasTable(database: SqliteDatabase, name: string): boolean {
  return database.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

/** The path, when it names an existing file; else a clear error, before anything could create it. */
export function requireDatabaseFile(path: string): string {
  if (path === ':memory:') throw new KeelError('invalid-argument', 'An in-memory database (:memory:) holds nothing to read from another process; give --db the file a session was run with.');
  if (!existsSync(path)) {
    throw new KeelError('storage-failure', `No Keel database at ${path}. Check --db (or KEEL_DB); this command only reads and creates nothing. A database is created by \`keel run\`.`, { retryable: false, details: { path } });
  }
  if (statSync(path).isDirectory()) throw new KeelError('invalid-argument', `${path} is a folder; --db takes the database file, for example ${path}/keel.db.`);
  return path;
}

/**
 * The file's bytes, marked as a rollback-journal database (header bytes 18 and 19): an in-memory copy has no
 * write-ahead log, and SQLite refuses to open a WAL-mode image without one. No -wal file exists (checked by the
 * caller), so every committed page is in the file and the copy is the whole database.
 */
function snapshotOf(path: string): Buffer {
  const bytes = readFileSync(path);
  if (bytes.length >= 20 && bytes[18] === 2 && bytes[19] === 2) {
    bytes[18] = 1;
    bytes[19] = 1;
  }
  return bytes;
}

function useSnapshot(path: string): boolean {
  if (existsSync(`${path}-wal`)) return false;
  try {
    accessSync(path, constants.W_OK);
    return false;
  } catch {
    return statSync(path).size <= snapshotLimitBytes;
  }
}

/** A component whose tables are missing or older than this Keel would have to migrate, which a reader must not do. */
function withoutMigration<T>(path: string, open: () => T): T {
  try {
    return open();
  } catch (error) {
    const code = isKeelError(error) ? error.details.code : undefined;
    if (typeof code === 'string' && code.startsWith('SQLITE_READONLY')) {
      throw new KeelError('storage-failure', `The database ${path} was written by an older Keel and its tables need an upgrade, which a read-only command does not do. Run a command that writes (for example \`keel resume\`) once, then retry.`, { cause: error, retryable: false, details: { path } });
    }
    throw error;
  }
}
