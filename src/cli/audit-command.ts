import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { KeelError, isKeelError } from '../errors/index.ts';
import { crossCheckAudit } from '../runtime/audit-cross-check.ts';
import type { AuditCrossCheck } from '../runtime/audit-cross-check.ts';
import {
  createAuditVerifier,
  createPostgresAuditLog,
  createPostgresJournal,
  createSqliteAuditLog,
  createSqliteJournal,
  defaultCheckpointPath,
  generateAuditKeyPair,
  openPostgresDatabase,
  openSqliteDatabase,
  postgresSchemaVersion,
  readCheckpoints,
} from '../store/index.ts';
import type { AuditHead, AuditLog, AuditRecord, AuditVerification, AuditVerifyOptions } from '../store/index.ts';
import type { DatabaseLocation, PostgresLocation } from './database-location.ts';

export interface AuditCommandOptions {
  /** The SQLite database holding the audit log, already resolved (argument, KEEL_DB, default). */
  readonly database: string;
  readonly json: boolean;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

type Print = (line: string) => void;

export const auditUsage = `Usage: keel audit <verify | head | list | keygen> [options]

  verify                 Check the audit log: its hash chain, signatures (with a public key), the head
                         checkpoints kept beside the database, an expected head, and the journal's tool
                         events; exit 1 naming the first problem
  head                   Print the log's head (seq:hash) to keep somewhere the log's writers cannot reach
  list [--session ID]    Print audit records, oldest first (--from SEQ to start later)
  keygen                 Make an Ed25519 key pair for signing the log (KEEL_AUDIT_SIGNING_KEY)

Options:
  --db PATH                  SQLite database (default .keel/keel.db, or KEEL_DB)
  --json                     Machine-readable output (list: one JSON record per line)
  --expect-head SEQ:HASH     verify: the chain must still hold this head (from \`keel audit head\`)
  --public-key KEY           verify: check signatures (default KEEL_AUDIT_PUBLIC_KEY)
  --allow-unsigned-before N  verify: records before N may be unsigned (written before signing was on)
  --checkpoints PATH         verify: head checkpoint file (default <database>.audit-heads)`;

/** Everything `keel audit verify` can check against; each proof is optional. */
export interface AuditVerifyCommandOptions {
  /** A SQLite file (opened read-only) or a PostgreSQL database. */
  readonly database: DatabaseLocation;
  readonly json: boolean;
  readonly expectHead?: string;
  readonly publicKey?: string;
  readonly allowUnsignedBefore?: number;
  readonly checkpoints?: string;
  /** Compare with the journal's tool events; default true. */
  readonly crossCheck?: boolean;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly out: Print;
  readonly err: Print;
}

/** `keel audit <subcommand>` from raw arguments; returns the exit code. */
export async function auditCommand(args: readonly string[], options: AuditCommandOptions, out: Print, err: Print): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        session: { type: 'string' }, from: { type: 'string' }, db: { type: 'string' }, json: { type: 'boolean' },
        'expect-head': { type: 'string' }, 'public-key': { type: 'string' }, 'allow-unsigned-before': { type: 'string' }, checkpoints: { type: 'string' },
      },
    });
  } catch (error) {
    err(`keel audit: ${error instanceof Error ? error.message : String(error)}\n\n${auditUsage}`);
    return 2;
  }
  const [subcommand, ...extra] = parsed.positionals;
  const database = parsed.values.db ?? options.database;
  const json = parsed.values.json ?? options.json;
  if (!['verify', 'head', 'list', 'keygen'].includes(subcommand ?? '') || extra.length > 0) {
    err(`keel audit: ${subcommand === undefined ? 'missing subcommand' : extra.length > 0 ? `unexpected argument "${extra[0]}"` : `unknown subcommand "${subcommand}"`}\n\n${auditUsage}`);
    return 2;
  }
  if (subcommand === 'keygen') return runAuditKeygen({ json, out });
  const numbers = parsePositiveIntegers({ from: parsed.values.from, 'allow-unsigned-before': parsed.values['allow-unsigned-before'] }, err);
  if (numbers === undefined) return 2;
  if (subcommand === 'head') return runAuditHead({ database, json, out, err });
  if (subcommand === 'list') return runAuditList({ database, sessionId: parsed.values.session, fromSeq: numbers.from ?? 1, json, out, err });
  return runAuditVerify({
    database, json, out, err, env: options.env,
    expectHead: parsed.values['expect-head'], publicKey: parsed.values['public-key'], checkpoints: parsed.values.checkpoints,
    allowUnsignedBefore: numbers['allow-unsigned-before'],
  });
}

function parsePositiveIntegers(values: Record<string, string | undefined>, err: Print): Record<string, number | undefined> | undefined {
  const parsed: Record<string, number | undefined> = {};
  for (const [name, text] of Object.entries(values)) {
    if (text === undefined) continue;
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1) {
      err(`keel audit: --${name} must be a record number of 1 or more, got "${text}".`);
      return undefined;
    }
    parsed[name] = value;
  }
  return parsed;
}

/** An audit log opened for a command, with the journal beside it when the database has one. */
interface AuditSource {
  readonly log: AuditLog;
  /** For messages: the file, or the PostgreSQL database without credentials. */
  readonly label: string;
  /** The log compared with the journal's tool events; undefined when the database holds no journal. */
  crossCheck(): Promise<AuditCrossCheck | undefined>;
  close(): Promise<void>;
}

/** Opens the log (read-only on SQLite), runs `work`, maps Keel errors to exit codes (2 for the caller's mistakes, 1 otherwise). */
async function withAuditLog(database: DatabaseLocation, err: Print, work: (source: AuditSource) => Promise<number>): Promise<number> {
  let source: AuditSource | undefined;
  try {
    source = typeof database === 'string' ? sqliteAuditSource(database) : await postgresAuditSource(database);
    return await work(source);
  } catch (error) {
    if (!isKeelError(error)) throw error;
    err(`keel audit: ${error.code}: ${error.message}`);
    return error.fault === 'user' ? 2 : 1;
  } finally {
    await source?.close();
  }
}

function sqliteAuditSource(path: string): AuditSource {
  const log = createSqliteAuditLog({ path, readOnly: true });
  return { log, label: path, crossCheck: () => crossCheckWithJournal(path, log), close: () => log.close() };
}

/** The audit log of a PostgreSQL schema; a schema without one is refused rather than given empty tables. */
async function postgresAuditSource(location: PostgresLocation): Promise<AuditSource> {
  const database = openPostgresDatabase({ url: location.url, schema: location.schema, maxConnections: 2 });
  try {
    if ((await postgresSchemaVersion(database, 'audit')) === 0) {
      throw new KeelError('invalid-argument', `The ${database.description} has no Keel audit log; check the URL and KEEL_DATABASE_SCHEMA.`);
    }
  } catch (error) {
    await database.close();
    throw error;
  }
  const log = createPostgresAuditLog({ database });
  return {
    log,
    label: database.description,
    async crossCheck() {
      if ((await postgresSchemaVersion(database, 'journal')) === 0) return undefined;
      const journal = createPostgresJournal({ database });
      try {
        return await crossCheckAudit({ journal, audit: log });
      } finally {
        await journal.close();
      }
    },
    async close() {
      await log.close();
      await database.close();
    },
  };
}

/** `keel audit head`: the head to copy somewhere the log's writers cannot reach, as `seq:hash`. */
export async function runAuditHead(options: { readonly database: DatabaseLocation; readonly json: boolean; readonly out: Print; readonly err: Print }): Promise<number> {
  return withAuditLog(options.database, options.err, async ({ log }) => {
    const head = await log.head();
    options.out(options.json ? JSON.stringify(head) : `${head.seq}:${head.hash}`);
    return 0;
  });
}

/** `keel audit keygen`: a fresh Ed25519 pair, printed as the two environment variables that use it. */
export async function runAuditKeygen(options: { readonly json: boolean; readonly out: Print }): Promise<number> {
  const pair = generateAuditKeyPair();
  if (options.json) options.out(JSON.stringify(pair));
  else options.out(`KEEL_AUDIT_SIGNING_KEY=${pair.privateKey}\nKEEL_AUDIT_PUBLIC_KEY=${pair.publicKey}`);
  return 0;
}

export async function runAuditVerify(options: AuditVerifyCommandOptions): Promise<number> {
  const { err } = options;
  let verifyOptions: AuditVerifyOptions;
  try {
    verifyOptions = verifyOptionsFrom(options);
  } catch (error) {
    if (!isKeelError(error)) throw error;
    err(`keel audit: ${error.message}`);
    return 2;
  }
  return withAuditLog(options.database, err, async (source) => {
    const result = await source.log.verify(verifyOptions);
    const crossCheck = result.ok && options.crossCheck !== false ? await source.crossCheck() : undefined;
    return reportVerification({ result, crossCheck, signed: verifyOptions.verifier !== undefined, options });
  });
}

function verifyOptionsFrom(options: AuditVerifyCommandOptions): AuditVerifyOptions {
  const publicKey = options.publicKey ?? options.env?.KEEL_AUDIT_PUBLIC_KEY;
  // A SQLite log keeps checkpoints beside its file; a PostgreSQL log has them only where --checkpoints says.
  const checkpointPath = options.checkpoints ?? (typeof options.database === 'string' ? defaultCheckpointPath(options.database) : undefined);
  if (options.checkpoints !== undefined && !existsSync(options.checkpoints)) {
    throw new KeelError('invalid-argument', `--checkpoints: no file at ${options.checkpoints}.`);
  }
  return {
    ...(publicKey === undefined || publicKey === '' ? {} : { verifier: createAuditVerifier(publicKey) }),
    ...(options.allowUnsignedBefore === undefined ? {} : { allowUnsignedBefore: options.allowUnsignedBefore }),
    ...(options.expectHead === undefined ? {} : { expectHead: parseHead(options.expectHead) }),
    ...(checkpointPath === undefined ? {} : { checkpoints: readCheckpoints(checkpointPath) }),
  };
}

function parseHead(text: string): AuditHead {
  const match = /^(\d+):([0-9a-f]{64})$/.exec(text.trim());
  if (match === null) throw new KeelError('invalid-argument', `--expect-head must be SEQ:HASH as \`keel audit head\` prints it (for example 42:3f9c…, 64 hex digits), got "${text.slice(0, 80)}".`);
  return { seq: Number(match[1]), hash: match[2]! };
}

/** Undefined when the database holds no journal (an audit log kept on its own): there is nothing to compare. */
async function crossCheckWithJournal(database: string, audit: AuditLog): Promise<AuditCrossCheck | undefined> {
  const connection = openSqliteDatabase({ path: database, readOnly: true });
  const hasJournal = connection.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").get() !== undefined;
  if (!hasJournal) {
    connection.close();
    return undefined;
  }
  const journal = createSqliteJournal({ database: connection });
  try {
    return await crossCheckAudit({ journal, audit });
  } finally {
    await journal.close();
    connection.close();
  }
}

interface VerificationReport {
  readonly result: AuditVerification;
  readonly crossCheck: AuditCrossCheck | undefined;
  readonly signed: boolean;
  readonly options: AuditVerifyCommandOptions;
}

function reportVerification({ result, crossCheck, signed, options }: VerificationReport): number {
  const ok = result.ok && (crossCheck?.ok ?? true);
  if (options.json) {
    options.out(JSON.stringify({ ...result, ...(crossCheck === undefined ? {} : { crossCheck }) }));
    return ok ? 0 : 1;
  }
  if (!result.ok) {
    options.err(`audit log tampered: first bad record is ${result.firstBadSeq}: ${result.problem}`);
    return 1;
  }
  if (crossCheck !== undefined && !crossCheck.ok) {
    options.err(`audit log and journal disagree (${crossCheck.mismatches.length} ${crossCheck.mismatches.length === 1 ? 'problem' : 'problems'}):`);
    for (const mismatch of crossCheck.mismatches) options.err(`  session ${mismatch.sessionId}: ${mismatch.problem}`);
    return 1;
  }
  const proofs = [
    signed ? `${result.signed ?? 0} signatures valid` : 'unsigned (no public key given)',
    result.checkpointsMatched === undefined ? 'no checkpoints' : `${result.checkpointsMatched} checkpoints matched`,
    crossCheck === undefined ? undefined : `${crossCheck.callsChecked} journaled tool results matched`,
  ].filter((part) => part !== undefined);
  options.out(`audit log intact: ${result.records} ${result.records === 1 ? 'record' : 'records'}; head ${result.head.seq}:${result.head.hash}; ${proofs.join('; ')}`);
  return 0;
}

export async function runAuditList(options: { readonly database: DatabaseLocation; readonly sessionId: string | undefined; readonly fromSeq: number; readonly json: boolean; readonly out: Print; readonly err: Print }): Promise<number> {
  return withAuditLog(options.database, options.err, (source) => list(source.log, { ...options, database: source.label }, options.out));
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
