import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isKeelError } from '../errors/index.ts';
import { createSqliteAuditLog } from '../store/index.ts';
import type { AuditLog, AuditRecord } from '../store/index.ts';

export interface AuditCommandOptions {
  /** The SQLite database holding the audit log, already resolved (argument, KEEL_DB, default). */
  readonly database: string;
  readonly json: boolean;
}

type Print = (line: string) => void;

export const auditUsage = `Usage: keel audit <verify | list> [options]

  verify                 Check the audit log's hash chain; exit 1 naming the first bad record
  list [--session ID]    Print audit records, oldest first (--from SEQ to start later)

Options:
  --db PATH   SQLite database (default .keel/keel.db, or KEEL_DB)
  --json      Machine-readable output (list: one JSON record per line)`;

/** `keel audit verify | list`: argument parsing and output only; the log does the work. Returns the exit code. */
export async function auditCommand(args: readonly string[], options: AuditCommandOptions, out: Print, err: Print): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      // --db and --json are accepted here too, for a caller that passes the arguments after `audit` unparsed.
      options: { session: { type: 'string' }, from: { type: 'string' }, db: { type: 'string' }, json: { type: 'boolean' } },
    });
  } catch (error) {
    err(`keel audit: ${error instanceof Error ? error.message : String(error)}\n\n${auditUsage}`);
    return 2;
  }
  const [subcommand, ...extra] = parsed.positionals;
  const database = parsed.values.db ?? options.database;
  const json = parsed.values.json ?? options.json;
  if ((subcommand !== 'verify' && subcommand !== 'list') || extra.length > 0) {
    err(`keel audit: ${subcommand === undefined ? 'missing subcommand' : extra.length > 0 ? `unexpected argument "${extra[0]}"` : `unknown subcommand "${subcommand}"`}\n\n${auditUsage}`);
    return 2;
  }
  if (database !== ':memory:' && !existsSync(database)) {
    err(`keel audit: no database at ${database}; pass --db PATH or set KEEL_DB to the database that holds the audit log.`);
    return 2;
  }
  let fromSeq = 1;
  if (parsed.values.from !== undefined) {
    fromSeq = Number(parsed.values.from);
    if (!Number.isInteger(fromSeq) || fromSeq < 1) {
      err(`keel audit: --from must be a record number of 1 or more, got "${parsed.values.from}".`);
      return 2;
    }
  }

  let log: AuditLog | undefined;
  try {
    log = createSqliteAuditLog({ path: database });
    if (subcommand === 'verify') return await verify(log, json, out, err);
    return await list(log, { sessionId: parsed.values.session, fromSeq, json, database }, out);
  } catch (error) {
    if (!isKeelError(error)) throw error;
    err(`keel audit: ${error.code}: ${error.message}`);
    return error.fault === 'user' ? 2 : 1;
  } finally {
    await log?.close();
  }
}

async function verify(log: AuditLog, json: boolean, out: Print, err: Print): Promise<number> {
  const result = await log.verify();
  if (json) {
    out(JSON.stringify(result));
    return result.ok ? 0 : 1;
  }
  if (result.ok) {
    out(`audit log intact: ${result.records} ${result.records === 1 ? 'record' : 'records'}; head hash ${result.head.hash}`);
    return 0;
  }
  err(`audit log tampered: first bad record is ${result.firstBadSeq}: ${result.problem}`);
  return 1;
}

interface ListOptions {
  readonly sessionId: string | undefined;
  readonly fromSeq: number;
  readonly json: boolean;
  readonly database: string;
}

async function list(log: AuditLog, options: ListOptions, out: Print): Promise<number> {
  const records = options.sessionId === undefined ? log.read(options.fromSeq) : log.readSession(options.sessionId);
  let printed = 0;
  for await (const record of records) {
    if (record.seq < options.fromSeq) continue;
    out(options.json ? JSON.stringify(record) : formatRecord(record));
    printed += 1;
  }
  if (printed === 0 && !options.json) {
    const which = options.sessionId === undefined ? '' : ` for session ${options.sessionId}`;
    out(`No audit records${which} in ${options.database}.`);
  }
  return 0;
}

const inputPreviewChars = 120;

export function formatRecord(record: AuditRecord): string {
  const approval = record.approver === null ? '' : ` approved by ${record.approver}${record.inputEdited ? ' (input edited)' : ''}`;
  const result =
    record.error !== null
      ? `error ${record.error.code}: ${record.error.message}`
      : `ok ${record.outputChars ?? 0} chars sha256:${(record.resultDigest ?? '').slice(0, 12)}${record.outputBlob === null ? '' : ` (full output in blob ${record.outputBlob.slice(0, 12)})`}`;
  const input = JSON.stringify(record.input) ?? 'null';
  const findings = record.findings.length === 0 ? '' : `  findings ${record.findings.map((finding) => `${finding.type}×${finding.count}`).join(', ')}`;
  return [
    `#${record.seq}  ${new Date(record.at).toISOString()}  ${record.sessionId} turn ${record.turn} call ${record.callId}`,
    `    ${record.agent} → ${record.tool}  ${record.decision} (${record.rule})${approval}  ${formatDuration(record.durationMs)}`,
    `    input ${input.length > inputPreviewChars ? `${input.slice(0, inputPreviewChars)}…` : input}`,
    `    ${result}${findings}`,
  ].join('\n');
}

function formatDuration(milliseconds: number): string {
  return milliseconds < 1000 ? `${Math.round(milliseconds)} ms` : `${(milliseconds / 1000).toFixed(2)} s`;
}
