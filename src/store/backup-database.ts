import { closeSync, existsSync, mkdirSync, openSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { KeelError } from '../errors/index.ts';
import { checkDatabase } from './check-database.ts';
import type { DatabaseCheckReport } from './check-database.ts';
import { readJournalHeads } from './journal-heads.ts';
import { databaseFileMode, databaseFolderMode, migrate, openSqliteDatabase } from './sqlite-database.ts';
import type { SqliteDatabase } from './sqlite-database.ts';
import { journalMigrations } from './sqlite-journal.ts';
import { toStorageFailure } from './storage-failure.ts';

export interface BackupDatabaseOptions {
  /** Replace a file already at the destination; by default an existing file is an error. */
  readonly overwrite?: boolean;
  /** Stamps the heads file; defaults to the system clock. */
  readonly now?: () => number;
  /**
   * Check the copy (`checkDatabase`) before returning; default true. The check reads the whole file
   * synchronously, so a server backing up a large database from its own event loop may turn it off and run
   * `keel check-db` on the copy elsewhere.
   */
  readonly check?: boolean;
}

export interface BackupResult {
  readonly destination: string;
  /** The heads of every session in the copy, for `checkDatabase(…, { expectHeads })` later. */
  readonly headsPath: string;
  readonly sessions: number;
  readonly events: number;
  readonly bytes: number;
  /** The copy's own check: a backup of a damaged database says so. Undefined with `check: false`. */
  readonly check: DatabaseCheckReport | undefined;
}

/**
 * How many pages each backup step copies. SQLite starts a backup over whenever another connection writes the source
 * between two steps, so under a writer that never pauses a copy made in small steps may never finish. Small steps
 * keep the event loop free; once a step leaves no fewer pages to copy (the copy started over, or the file grew), the
 * rest goes in one step, which reads one snapshot.
 */
function pagesPerStep(): (progress: { readonly totalPages: number; readonly remainingPages: number }) => number {
  let lastRemaining = Number.POSITIVE_INFINITY;
  let startedOver = false;
  return ({ remainingPages }) => {
    if (remainingPages >= lastRemaining) startedOver = true;
    lastRemaining = remainingPages;
    return startedOver ? 0x7fffffff : 100;
  };
}

/**
 * Copies a Keel database with SQLite's online backup, consistent while sessions keep writing, and including
 * the commits that are still only in the -wal file (which a plain copy of the .db file would lose). The copy is
 * one self-contained file (rollback journal mode; Keel turns WAL back on when it opens it), mode 0600, written
 * under a temporary name and renamed when complete, then checked. Beside it, `<destination>.heads.json` records
 * each session's last seq and chain hash. `source` is a path, opened read-only, or an open connection.
 */
export async function backupDatabase(source: string | SqliteDatabase, destinationPath: string, options: BackupDatabaseOptions = {}): Promise<BackupResult> {
  const destination = resolve(destinationPath);
  const headsPath = `${destination}.heads.json`;
  const sourceDatabase = typeof source === 'string' ? openSqliteDatabase({ path: source, readOnly: true }) : source;
  const partial = `${destination}.partial-${randomBytes(6).toString('hex')}`;
  try {
    checkDestination(sourceDatabase.name, destination, options.overwrite === true);
    createPrivateFile(partial);
    await sourceDatabase.backup(partial, { progress: pagesPerStep() });
    const { heads, events, check } = finishCopy(partial, { now: options.now ?? Date.now, check: options.check !== false });
    renameSync(partial, destination);
    writePrivateFile(headsPath, `${JSON.stringify(heads, null, 2)}\n`);
    return { destination, headsPath, sessions: heads.sessions.length, events, bytes: statSync(destination).size, check: check === undefined ? undefined : { ...check, path: destination } };
  } catch (error) {
    rmSync(partial, { force: true });
    rmSync(`${partial}-journal`, { force: true });
    if (error instanceof KeelError) throw error;
    throw toStorageFailure(error, { path: destination, action: `backing up ${sourceDatabase.name}` });
  } finally {
    if (typeof source === 'string') sourceDatabase.close();
  }
}

function checkDestination(sourcePath: string, destination: string, overwrite: boolean): void {
  if (!existsSync(destination)) return;
  if (realpathSync(destination) === realpathSync(sourcePath)) {
    throw new KeelError('invalid-argument', `The backup destination ${destination} is the database itself; choose another path.`, { details: { destination } });
  }
  if (!overwrite) {
    throw new KeelError('invalid-argument', `${destination} already exists; choose a new path for the backup (or pass overwrite to replace it).`, { details: { destination } });
  }
}

/** Makes the copy self-contained, brings its journal to the current schema (chaining old sessions), reads its heads and checks it. */
function finishCopy(path: string, options: { readonly now: () => number; readonly check: boolean }) {
  const copy = new Database(path);
  try {
    copy.pragma('journal_mode = DELETE');
    const hasJournal = copy.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").get() !== undefined;
    if (hasJournal) migrate(copy, 'journal', journalMigrations);
    const takenAt = options.now();
    const heads = hasJournal ? readJournalHeads(copy, takenAt) : { format: 'keel-journal-heads' as const, version: 1 as const, takenAt, sessions: [] };
    const events = hasJournal ? copy.prepare<[], number>('SELECT COUNT(*) FROM events').pluck().get() ?? 0 : 0;
    return { heads, events, check: options.check ? checkDatabase(copy) : undefined };
  } finally {
    copy.close();
  }
}

function createPrivateFile(path: string): void {
  const folder = dirname(path);
  if (!existsSync(folder)) mkdirSync(folder, { recursive: true, mode: databaseFolderMode });
  closeSync(openSync(path, 'wx', databaseFileMode));
}

/** Writes under a temporary name and renames, so a reader never sees half a file. */
function writePrivateFile(path: string, content: string): void {
  const partial = `${path}.partial-${randomBytes(6).toString('hex')}`;
  writeFileSync(partial, content, { mode: databaseFileMode, flag: 'wx' });
  renameSync(partial, path);
}
