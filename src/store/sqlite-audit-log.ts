import { KeelError } from '../errors/index.ts';
import type { Clock } from '../spec/clock.ts';
import type { ToolDecision } from '../spec/events.ts';
import { systemClock } from '../util/index.ts';
import { genesisHash, linkNormalizedEntry, normalizeAuditEntry, verifyChain } from './audit-chain.ts';
import type { UnreadableAuditRecord } from './audit-chain.ts';
import type { AuditEntry, AuditFinding, AuditHead, AuditLog, AuditRecord } from './audit-log.ts';
import { appendCheckpoint, defaultCheckpointPath, readCheckpoints } from './audit-checkpoints.ts';
import type { AuditSigner } from './audit-signing.ts';
import { migrate, openSqliteDatabase } from './sqlite-database.ts';
import type { Migration, SqliteDatabase } from './sqlite-database.ts';
import { groupCommitOf } from './sqlite-group-commit.ts';
import { toStorageFailure } from './storage-failure.ts';

export type SqliteAuditLogOptions = (
  /** `readOnly` opens an existing database to read and verify, migrating and checkpointing nothing. */
  | { readonly path: string; readonly busyTimeoutMs?: number; readonly readOnly?: boolean }
  /** A database shared with other stores; the audit log does not close it. */
  | { readonly database: SqliteDatabase }
) & {
  readonly clock?: Pick<Clock, 'now'>;
  /** Signs every new record's hash (Ed25519), so a rewrite of the log without the key is found. */
  readonly signer?: AuditSigner;
  /**
   * Where head checkpoints are appended, outside the database: `<database>.audit-heads` by default for a file
   * database, none for `:memory:`; `false` turns them off.
   */
  readonly checkpointPath?: string | false;
  /** How often the head is checkpointed while records are appended; it is also checkpointed at close. Default 2 s. */
  readonly checkpointIntervalMs?: number;
};

export const auditMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'audit records and head',
    // One column per field, so that changing any stored value changes the record that is read back and
    // hashed. The head row, written in the same transaction as each record, is how removals from the end
    // are found. The triggers stop UPDATE and DELETE through SQL; they protect against mistakes, and the
    // hash chain finds what someone who drops them does.
    sql: `
      CREATE TABLE audit_records (
        seq INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        session_id TEXT NOT NULL,
        turn INTEGER NOT NULL,
        call_id TEXT NOT NULL,
        agent TEXT NOT NULL,
        tool TEXT NOT NULL,
        input TEXT NOT NULL,
        decision TEXT NOT NULL,
        rule TEXT NOT NULL,
        approver TEXT,
        input_edited INTEGER NOT NULL,
        result_digest TEXT,
        output_chars INTEGER,
        output_blob TEXT,
        duration_ms REAL NOT NULL,
        error_code TEXT,
        error_message TEXT,
        findings TEXT NOT NULL,
        previous_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      );
      CREATE INDEX audit_records_by_session ON audit_records (session_id, seq);
      CREATE TABLE audit_head (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL
      );
      INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '${genesisHash}');
      CREATE TRIGGER audit_records_append_only_update BEFORE UPDATE ON audit_records
        BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
      CREATE TRIGGER audit_records_append_only_delete BEFORE DELETE ON audit_records
        BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
    `,
  },
  {
    version: 2,
    name: 'audit record signatures',
    // Outside the hashed content: the signature signs the hash. Null for records written without a key.
    sql: 'ALTER TABLE audit_records ADD COLUMN signature TEXT;',
  },
];

interface AuditRow {
  readonly seq: number;
  readonly at: number;
  readonly session_id: string;
  readonly turn: number;
  readonly call_id: string;
  readonly agent: string;
  readonly tool: string;
  readonly input: string;
  readonly decision: string;
  readonly rule: string;
  readonly approver: string | null;
  readonly input_edited: number;
  readonly result_digest: string | null;
  readonly output_chars: number | null;
  readonly output_blob: string | null;
  readonly duration_ms: number;
  readonly error_code: string | null;
  readonly error_message: string | null;
  readonly findings: string;
  readonly previous_hash: string;
  readonly hash: string;
  readonly signature: string | null;
}

// Pages rather than one open cursor: better-sqlite3 refuses other statements on a connection while a cursor is open.
const readPageSize = 512;

/** The audit log in SQLite: one hash chain per database, appended in IMMEDIATE transactions so processes serialise. */
export function createSqliteAuditLog(options: SqliteAuditLogOptions): AuditLog {
  const ownsDatabase = !('database' in options);
  const database = 'database' in options ? options.database : openSqliteDatabase(options);
  const path = database.name;
  const clock = options.clock ?? systemClock;
  const readOnly = 'path' in options && options.readOnly === true;
  try {
    if (!readOnly) migrate(database, 'audit', auditMigrations);
  } catch (error) {
    if (ownsDatabase) database.close();
    throw error;
  }

  const selectHead = database.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM audit_head WHERE id = 1');
  const selectLast = database.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1');
  // Prepared on first use: a read-only open of a log written before signatures has no signature column.
  // Positional parameters: better-sqlite3 binds them several times faster than 22 named ones looked up on an object.
  const insertRecord = lazy(() => database.prepare<AuditRowValues>(
    `INSERT INTO audit_records (seq, at, session_id, turn, call_id, agent, tool, input, decision, rule, approver, input_edited,
       result_digest, output_chars, output_blob, duration_ms, error_code, error_message, findings, previous_hash, hash, signature)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  ));
  const updateHead = database.prepare<[number, string]>('UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1');
  const selectPage = database.prepare<[number, number], AuditRow>('SELECT * FROM audit_records WHERE seq >= ? ORDER BY seq LIMIT ?');
  const selectSessionPage = database.prepare<[string, number, number], AuditRow>(
    'SELECT * FROM audit_records WHERE session_id = ? AND seq >= ? ORDER BY seq LIMIT ?',
  );

  function readHead(): AuditHead {
    const head = selectHead.get();
    if (head === undefined) {
      throw new KeelError('audit-tampered', `The audit log in ${path} has lost its head row, so removed records cannot be ruled out; run \`keel audit verify\` and restore the database from a backup.`, {
        details: { path },
      });
    }
    return head;
  }

  // IMMEDIATE takes the write lock before reading the head, so two processes appending at once serialise
  // instead of both linking to the same predecessor. The head and the last record must agree before the
  // chain grows: extending a broken chain would bury the break under new records.
  const appendInTransaction = database.transaction((normalized: AuditEntry): AuditRecord => {
    const head = readHead();
    const last = selectLast.get() ?? { seq: 0, hash: genesisHash };
    if (last.seq !== head.seq || last.hash !== head.hash) {
      throw new KeelError(
        'audit-tampered',
        `The audit log in ${path} ends at record ${last.seq}, but its head says ${head.seq}${last.seq === head.seq ? ' with another hash' : ''}; refusing to extend a broken chain. Run \`keel audit verify\` to find the first bad record.`,
        { details: { path, lastSeq: last.seq, headSeq: head.seq } },
      );
    }
    const linked = linkNormalizedEntry(normalized, head, clock.now());
    const record = options.signer === undefined ? linked : { ...linked, signature: options.signer.sign(linked.hash) };
    insertRecord().run(...rowValues(record));
    updateHead.run(record.seq, record.hash);
    return record;
  });

  const groupCommit = groupCommitOf(database);
  let closed = false;

  const checkpointPath = resolveCheckpointPath(options, path);
  let lastCheckpointSeq = -1;
  const writesCheckpoints = checkpointPath !== undefined && !readOnly;
  // Checkpoints are best effort: a full disk must not stop tool calls, and verify reports what is missing.
  function checkpointNow(): void {
    if (!writesCheckpoints || closed) return;
    try {
      const head = readHead();
      if (head.seq === lastCheckpointSeq) return;
      if (lastCheckpointSeq === -1 && head.seq === 0) return;
      appendCheckpoint(checkpointPath!, { ...head, at: clock.now() });
      lastCheckpointSeq = head.seq;
    } catch {
      lastCheckpointSeq = -1;
    }
  }
  const checkpointTimer = !writesCheckpoints ? undefined : setInterval(checkpointNow, options.checkpointIntervalMs ?? 2000);
  checkpointTimer?.unref();
  function guarded<T>(action: string, work: () => T): T {
    if (closed) throw new KeelError('storage-failure', `The audit log at ${path} is closed.`, { retryable: false, details: { path } });
    try {
      return work();
    } catch (error) {
      throw toStorageFailure(error, { path, action });
    }
  }

  function appendSync(entry: AuditEntry): AuditRecord {
    // Checked before taking the write lock, so a malformed entry never holds up other writers.
    const normalized = normalizeAuditEntry(entry);
    // With group commit the record commits with the journal append that reports the call's outcome, or before it.
    if (groupCommit !== undefined) return guarded('appending to the audit log', () => groupCommit.deferred(() => appendInTransaction.immediate(normalized)));
    return guarded('appending to the audit log', () => appendInTransaction.immediate(normalized));
  }

  function* pages(select: (fromSeq: number) => readonly AuditRow[], fromSeq: number): Generator<AuditRow> {
    let next = fromSeq;
    for (;;) {
      const rows = guarded('reading the audit log', () => select(next));
      yield* rows;
      const last = rows.at(-1);
      if (last === undefined || rows.length < readPageSize) return;
      next = last.seq + 1;
    }
  }

  function toRecordOrThrow(row: AuditRow): AuditRecord {
    const record = fromRow(row);
    if ('unreadable' in record) {
      throw new KeelError('audit-tampered', `Audit record ${row.seq} in ${path} cannot be read (${record.unreadable}); run \`keel audit verify\`.`, {
        details: { path, seq: row.seq },
      });
    }
    return record;
  }

  return {
    async append(entry) {
      return appendSync(entry);
    },
    async *read(fromSeq = 1) {
      for (const row of pages((next) => selectPage.all(next, readPageSize), fromSeq)) yield toRecordOrThrow(row);
    },
    async *readSession(sessionId) {
      for (const row of pages((next) => selectSessionPage.all(sessionId, next, readPageSize), 1)) yield toRecordOrThrow(row);
    },
    async head() {
      return guarded('reading the audit head', readHead);
    },
    async verify(verifyOptions = {}) {
      const head = guarded('reading the audit head', () => selectHead.get());
      const checkpoints = verifyOptions.checkpoints ?? (checkpointPath === undefined ? undefined : readCheckpoints(checkpointPath));
      const chainOptions = { ...verifyOptions, checkpoints };
      const records = (function* () {
        for (const row of pages((next) => selectPage.all(next, readPageSize), Number.MIN_SAFE_INTEGER)) yield fromRow(row);
      })();
      if (head === undefined) {
        const result = verifyChain(records, undefined, chainOptions);
        if (!result.ok) return result;
        return { ok: false, firstBadSeq: result.head.seq + 1, problem: `the log's head row is missing, so records after record ${result.head.seq} may have been removed` };
      }
      return verifyChain(records, head, chainOptions);
    },
    async close() {
      if (closed) return;
      clearInterval(checkpointTimer);
      checkpointNow();
      closed = true;
      if (ownsDatabase) database.close();
    },
  };
}

/** A record's column values, in the order of the insert's columns. */
type AuditRowValues = [
  seq: number,
  at: number,
  sessionId: string,
  turn: number,
  callId: string,
  agent: string,
  tool: string,
  input: string,
  decision: string,
  rule: string,
  approver: string | null,
  inputEdited: number,
  resultDigest: string | null,
  outputChars: number | null,
  outputBlob: string | null,
  durationMs: number,
  errorCode: string | null,
  errorMessage: string | null,
  findings: string,
  previousHash: string,
  hash: string,
  signature: string | null,
];

function rowValues(record: AuditRecord): AuditRowValues {
  return [
    record.seq,
    record.at,
    record.sessionId,
    record.turn,
    record.callId,
    record.agent,
    record.tool,
    JSON.stringify(record.input),
    record.decision,
    record.rule,
    record.approver,
    record.inputEdited ? 1 : 0,
    record.resultDigest,
    record.outputChars,
    record.outputBlob,
    record.durationMs,
    record.error?.code ?? null,
    record.error?.message ?? null,
    JSON.stringify(record.findings),
    record.previousHash,
    record.hash,
    record.signature ?? null,
  ];
}

function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

function resolveCheckpointPath(options: SqliteAuditLogOptions, databasePath: string): string | undefined {
  if (options.checkpointPath === false) return undefined;
  if (options.checkpointPath !== undefined) return options.checkpointPath;
  if (databasePath === ':memory:' || databasePath === '') return undefined;
  return defaultCheckpointPath(databasePath);
}

/** Rebuilds the record exactly as written, or says why it cannot: a column edited into something the record never held. */
function fromRow(row: AuditRow): AuditRecord | UnreadableAuditRecord {
  let input: unknown;
  let findings: readonly AuditFinding[];
  try {
    input = JSON.parse(row.input);
  } catch {
    return { seq: row.seq, unreadable: 'its input is not valid JSON' };
  }
  try {
    findings = JSON.parse(row.findings) as readonly AuditFinding[];
  } catch {
    return { seq: row.seq, unreadable: 'its findings are not valid JSON' };
  }
  if ((row.error_code === null) !== (row.error_message === null)) return { seq: row.seq, unreadable: 'it has only half of an error' };
  return {
    seq: row.seq,
    at: row.at,
    sessionId: row.session_id,
    turn: row.turn,
    callId: row.call_id,
    agent: row.agent,
    tool: row.tool,
    input,
    decision: row.decision as ToolDecision,
    rule: row.rule,
    approver: row.approver,
    // Anything but the 0 or 1 written is kept as the raw value, so that the hash check sees the change.
    inputEdited: row.input_edited === 1 ? true : row.input_edited === 0 ? false : (row.input_edited as unknown as boolean),
    resultDigest: row.result_digest,
    outputChars: row.output_chars,
    outputBlob: row.output_blob,
    durationMs: row.duration_ms,
    error: row.error_code === null || row.error_message === null ? null : { code: row.error_code, message: row.error_message },
    findings,
    previousHash: row.previous_hash,
    hash: row.hash,
    ...(row.signature === null || row.signature === undefined ? {} : { signature: row.signature }),
  };
}
