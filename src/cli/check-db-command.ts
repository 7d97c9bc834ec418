import { isKeelError } from '../errors/index.ts';
import { checkDatabase, checkPostgresDatabase, openPostgresDatabase } from '../store/index.ts';
import type { DatabaseCheckReport } from '../store/index.ts';
import type { DatabaseLocation, PostgresLocation } from './database-location.ts';

export interface CheckDatabaseCommandOptions {
  /** The database to check, already resolved: a SQLite file (opened read-only, never created) or PostgreSQL. */
  readonly database: DatabaseLocation;
  readonly json: boolean;
  /** A heads file written by `keel backup` (--expect-heads): every session in it must still be whole. */
  readonly expectHeads?: string;
  readonly out: (line: string) => void;
  /** Where errors go; defaults to `out`. */
  readonly err?: (line: string) => void;
}

/**
 * `keel check-db`: page integrity, every session's seqs and hash chain, session rows against their events, and
 * optionally the heads of a backup. Exit 0 when sound (warnings allowed), 1 when a problem was found, 2 when the
 * check could not run (no such database, unreadable heads file).
 */
export async function runCheckDatabaseCommand(options: CheckDatabaseCommandOptions): Promise<number> {
  const { out } = options;
  const err = options.err ?? out;
  let report: DatabaseCheckReport;
  try {
    const checkOptions = options.expectHeads === undefined ? {} : { expectHeads: options.expectHeads };
    report = typeof options.database === 'string' ? checkDatabase(options.database, checkOptions) : await checkPostgres(options.database, checkOptions);
  } catch (error) {
    err(`keel check-db: ${isKeelError(error) || error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  if (options.json) out(JSON.stringify(report));
  else printReport(report, { sqlite: typeof options.database === 'string', out });
  return report.ok ? 0 : 1;
}

async function checkPostgres(location: PostgresLocation, checkOptions: { readonly expectHeads?: string }): Promise<DatabaseCheckReport> {
  const database = openPostgresDatabase({ url: location.url, schema: location.schema, maxConnections: 1 });
  try {
    return await checkPostgresDatabase(database, checkOptions);
  } finally {
    await database.close();
  }
}

function printReport(report: DatabaseCheckReport, { sqlite, out }: { readonly sqlite: boolean; readonly out: (line: string) => void }): void {
  const heads = report.expectedHeads > 0 ? `, against ${report.expectedHeads} expected head(s)` : '';
  out(`${report.ok ? 'OK' : 'PROBLEMS'}: ${report.path}: ${report.sessions} session(s), ${report.events} event(s) checked${heads}.`);
  for (const finding of report.findings) out(`  ${finding.severity} ${finding.kind}: ${finding.message}`);
  if (report.omittedFindings > 0) out(`  … and ${report.omittedFindings} more findings, not listed.`);
  // Only a file can lose its -wal tail unnoticed; PostgreSQL's own recovery replays its WAL.
  if (report.expectedHeads === 0 && sqlite) {
    out('A -wal file lost at a commit boundary leaves an older but consistent journal, which no check of the file alone can tell;');
    out('pass --expect-heads <backup>.heads.json to compare with what a backup saw.');
  }
}
