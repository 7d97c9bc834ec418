import { KeelError, isKeelError } from '../errors/index.ts';
import { backupDatabase, describeDatabaseUrl } from '../store/index.ts';
import type { DatabaseLocation } from './database-location.ts';

export interface BackupCommandOptions {
  /** The SQLite file to copy, already resolved (--db, KEEL_DB, default), opened read-only; PostgreSQL is refused. */
  readonly database: DatabaseLocation;
  /** Where the copy goes; an existing file is refused. */
  readonly destination: string;
  readonly out: (line: string) => void;
  /** Where errors go; defaults to `out`. */
  readonly err?: (line: string) => void;
}

/**
 * `keel backup <path>`: an online, consistent copy of the database (including what is still only in its -wal
 * file), checked, with a heads file beside it. Exit 0 when the copy is complete and sound, 1 otherwise.
 */
export async function runBackupCommand(options: BackupCommandOptions): Promise<number> {
  const { out } = options;
  const err = options.err ?? out;
  try {
    if (typeof options.database !== 'string') throw postgresBackupRefused(options.database.url, options.database.schema);
    const result = await backupDatabase(options.database, options.destination);
    out(`Backed up ${options.database} to ${result.destination}: ${count(result.sessions, 'session')}, ${count(result.events, 'event')}, ${formatBytes(result.bytes)}.`);
    out(`Heads: ${result.headsPath}. Keep it apart from the database; \`keel check-db --expect-heads ${result.headsPath}\` later shows whether any of these events were lost.`);
    const findings = result.check?.findings ?? [];
    for (const finding of findings) (finding.severity === 'error' ? err : out)(`${finding.severity}: ${finding.message}`);
    if (result.check?.ok === false) {
      err('The copy is complete but the database it was taken from is damaged (see above); keep this copy and any older ones.');
      return 1;
    }
    return 0;
  } catch (error) {
    err(`keel backup: ${isKeelError(error) || error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

/** Copying a PostgreSQL database belongs to its own tools, which know its files, roles and versions. */
export function postgresBackupRefused(url: string, schema: string): KeelError {
  return new KeelError(
    'invalid-argument',
    `keel backup copies a SQLite database file; the ${describeDatabaseUrl(url, schema)} is backed up with PostgreSQL's tools: ` +
      `pg_dump --schema=${schema} for a consistent logical copy of Keel's tables while sessions run, or pg_basebackup (with WAL archiving) for the whole cluster and point-in-time recovery. ` +
      'After restoring, `keel check-db --database-url <url>` checks every session\'s hash chain.',
  );
}

function count(value: number, noun: string): string {
  return `${value} ${noun}${value === 1 ? '' : 's'}`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
