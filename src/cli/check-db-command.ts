import { isKeelError } from '../errors/index.ts';
import { checkDatabase } from '../store/index.ts';
import type { DatabaseCheckReport } from '../store/index.ts';

export interface CheckDatabaseCommandOptions {
  /** The database to check, already resolved (--db, KEEL_DB, default); opened read-only, never created. */
  readonly database: string;
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
    report = checkDatabase(options.database, options.expectHeads === undefined ? {} : { expectHeads: options.expectHeads });
  } catch (error) {
    err(`keel check-db: ${isKeelError(error) || error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  if (options.json) out(JSON.stringify(report));
  else printReport(report, out);
  return report.ok ? 0 : 1;
}

function printReport(report: DatabaseCheckReport, out: (line: string) => void): void {
  const heads = report.expectedHeads > 0 ? `, against ${report.expectedHeads} expected head(s)` : '';
  out(`${report.ok ? 'OK' : 'PROBLEMS'}: ${report.path}: ${report.sessions} session(s), ${report.events} event(s) checked${heads}.`);
  for (const finding of report.findings) out(`  ${finding.severity} ${finding.kind}: ${finding.message}`);
  if (report.omittedFindings > 0) out(`  … and ${report.omittedFindings} more findings, not listed.`);
  if (report.expectedHeads === 0) {
    out('A -wal file lost at a commit boundary leaves an older but consistent journal, which no check of the file alone can tell;');
    out('pass --expect-heads <backup>.heads.json to compare with what a backup saw.');
  }
}
