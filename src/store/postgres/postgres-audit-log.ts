import { KeelError } from '../../errors/index.ts';
import type { Clock } from '../../spec/clock.ts';
import type { ToolDecision } from '../../spec/events.ts';
import { systemClock } from '../../util/index.ts';
import { genesisHash, linkNormalizedEntry, normalizeAuditEntry, verifyChain } from '../audit-chain.ts';
import type { UnreadableAuditRecord } from '../audit-chain.ts';
import { appendCheckpoint, readCheckpoints } from '../audit-checkpoints.ts';
import type { AuditEntry, AuditFinding, AuditHead, AuditLog, AuditRecord } from '../audit-log.ts';
import type { AuditSigner } from '../audit-signing.ts';
import { guardedQuery } from './postgres-database.ts';
import type { PostgresDatabase, SqlExecutor } from './postgres-database.ts';
import { migrationOnce } from './postgres-migrations.ts';
import type { PostgresMigration } from './postgres-migrations.ts';
import { closedStoreError, databaseOf } from './postgres-options.ts';
import type { PostgresStoreTarget } from './postgres-options.ts';
import { fromBytes, toBytes, toNumber } from './postgres-values.ts';

export type PostgresAuditLogOptions = PostgresStoreTarget & {
  readonly clock?: Pick<Clock, 'now'>;
  /** Signs every new record's hash (Ed25519), so a rewrite of the log without the key is found. */
  readonly signer?: AuditSigner;
  /**
   * A file outside the database where the head is appended as checkpoints (none by default: the database is on
   * another host). Put it where the database's users cannot write, and verification finds a truncated or re-hashed log.
   */
  readonly checkpointPath?: string;
  /** How often the head is checkpointed while records are appended; it is also checkpointed at close. Default 2 s. */
  readonly checkpointIntervalMs?: number;
};

export const postgresAuditMigrations: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'audit records and head',
    // One column per field, so that changing any stored value changes the record read back and hashed. The head
    // row is locked by every append (appenders serialise on it) and written in the same transaction as the
    // record: that is how removals from the end are found. The trigger stops UPDATE and DELETE through SQL; it
    // guards against mistakes, and the hash chain finds what someone who drops it does.
    sql: `
      CREATE TABLE audit_records (
        seq bigint PRIMARY KEY,
        at bigint NOT NULL,
        session_id text NOT NULL,
        turn integer NOT NULL,
        call_id text NOT NULL,
        agent text NOT NULL,
        tool text NOT NULL,
        input text NOT NULL,
        decision text NOT NULL,
        rule text NOT NULL,
        approver text,
        input_edited boolean NOT NULL,
        result_digest text,
        output_chars bigint,
        output_blob text,
        duration_ms double precision NOT NULL,
        error_code text,
        error_message bytea,
        findings text NOT NULL,
        previous_hash text NOT NULL,
        hash text NOT NULL,
        signature text
      );
      CREATE INDEX audit_records_by_session ON audit_records (session_id, seq);
      CREATE TABLE audit_head (
        id integer PRIMARY KEY CHECK (id = 1),
        seq bigint NOT NULL,
        hash text NOT NULL
      );
      INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '${genesisHash}');
      CREATE FUNCTION audit_records_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit records are append-only'; END $$;
      CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records
        FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();
    `,
  },
];

interface AuditRow {
  readonly seq: string | number;
  readonly at: string | number;
  readonly session_id: string;
  readonly turn: number;
  readonly call_id: string;
  readonly agent: string;
  readonly tool: string;
  readonly input: string;
  readonly decision: string;
  readonly rule: string;
  readonly approver: string | null;
  readonly input_edited: boolean;
  readonly result_digest: string | null;
  readonly output_chars: string | number | null;
  readonly output_blob: string | null;
  readonly duration_ms: number;
  readonly error_code: string | null;
  readonly error_message: Uint8Array | null;
  readonly findings: string;
  readonly previous_hash: string;
  readonly hash: string;
  readonly signature: string | null;
}

const readPageSize = 512;

/** The audit log in PostgreSQL: one hash chain per schema, appended under a lock on the head row so processes serialise. */
export function createPostgresAuditLog(options: PostgresAuditLogOptions): AuditLog {
  const { database, owned } = databaseOf(options);
  const clock = options.clock ?? systemClock;
  const ready = migrationOnce(database, 'audit', postgresAuditMigrations);
  let closed = false;
  async function guarded<T>(action: string, work: () => Promise<T>): Promise<T> {
    if (closed) throw closedStoreError('audit log', database);
    return guardedQuery(database, action, async () => {
      await ready;
      return work();
    });
  }

  async function appendRecord(normalized: AuditEntry): Promise<AuditRecord> {
    return database.transaction(async (transaction) => {
      const head = await readHead(transaction, database, 'FOR UPDATE');
      const lastRows = await transaction.query<{ seq: string; hash: string }>('SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1');
      const last = lastRows.rows[0] === undefined ? { seq: 0, hash: genesisHash } : { seq: toNumber(lastRows.rows[0].seq), hash: lastRows.rows[0].hash };
      if (last.seq !== head.seq || last.hash !== head.hash) {
        throw new KeelError(
          'audit-tampered',
          `The audit log in the ${database.description} ends at record ${last.seq}, but its head says ${head.seq}${last.seq === head.seq ? ' with another hash' : ''}; refusing to extend a broken chain. Run \`keel audit verify\` to find the first bad record.`,
          { details: { database: database.description, lastSeq: last.seq, headSeq: head.seq } },
        );
      }
      const linked = linkNormalizedEntry(normalized, head, clock.now());
      const record = options.signer === undefined ? linked : { ...linked, signature: options.signer.sign(linked.hash) };
      await transaction.query(
        `INSERT INTO audit_records (seq, at, session_id, turn, call_id, agent, tool, input, decision, rule, approver, input_edited,
           result_digest, output_chars, output_blob, duration_ms, error_code, error_message, findings, previous_hash, hash, signature)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`,
        toParameters(record),
      );
      await transaction.query('UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1', [record.seq, record.hash]);
      return record;
    });
  }

  const checkpoints = createCheckpointer(options, clock, () => guarded('reading the audit head', () => readHead(database, database)));

  async function* rows(where: string, params: readonly unknown[], fromSeq: number): AsyncGenerator<AuditRow> {
    let next = fromSeq;
    for (;;) {
      const page = await guarded('reading the audit log', () =>
        database.query<AuditRow>(`SELECT * FROM audit_records WHERE ${where} seq >= $1 ORDER BY seq LIMIT $2`, [next, readPageSize, ...params]),
      );
      yield* page.rows;
      const last = page.rows.at(-1);
      if (last === undefined || page.rows.length < readPageSize) return;
      next = toNumber(last.seq) + 1;
    }
  }

  function toRecordOrThrow(row: AuditRow): AuditRecord {
    const record = fromRow(row);
    if ('unreadable' in record) {
      throw new KeelError('audit-tampered', `Audit record ${record.seq} in the ${database.description} cannot be read (${record.unreadable}); run \`keel audit verify\`.`, {
        details: { database: database.description, seq: record.seq },
      });
    }
    return record;
  }

  return {
    async append(entry) {
      // Checked before the transaction, so a malformed entry never holds the head row.
      const normalized = normalizeAuditEntry(entry);
      const record = await guarded('appending to the audit log', () => appendRecord(normalized));
      checkpoints.appended();
      return record;
    },
    async *read(fromSeq = 1) {
      for await (const row of rows('', [], fromSeq)) yield toRecordOrThrow(row);
    },
    async *readSession(sessionId) {
      for await (const row of rows('session_id = $3 AND', [sessionId], 1)) yield toRecordOrThrow(row);
    },
    async head() {
      return guarded('reading the audit head', () => readHead(database, database));
    },
    async verify(verifyOptions = {}) {
      const headRows = await guarded('reading the audit head', () => database.query<{ seq: string; hash: string }>('SELECT seq, hash FROM audit_head WHERE id = 1'));
      const headRow = headRows.rows[0];
      const checkpointList = verifyOptions.checkpoints ?? (options.checkpointPath === undefined ? undefined : readCheckpoints(options.checkpointPath));
      const chainOptions = { ...verifyOptions, checkpoints: checkpointList };
      // verifyChain walks a synchronous iterable: the rows are read first, a page at a time.
      const all: (AuditRecord | UnreadableAuditRecord)[] = [];
      for await (const row of rows('', [], Number.MIN_SAFE_INTEGER)) all.push(fromRow(row));
      if (headRow === undefined) {
        const result = verifyChain(all, undefined, chainOptions);
        if (!result.ok) return result;
        return { ok: false, firstBadSeq: result.head.seq + 1, problem: `the log's head row is missing, so records after record ${result.head.seq} may have been removed` };
      }
      return verifyChain(all, { seq: toNumber(headRow.seq), hash: headRow.hash }, chainOptions);
    },
    async close() {
      if (closed) return;
      await checkpoints.stop();
      closed = true;
      if (owned) await database.close();
    },
  };
}

async function readHead(executor: SqlExecutor, database: PostgresDatabase, lock = ''): Promise<AuditHead> {
  const result = await executor.query<{ seq: string; hash: string }>(`SELECT seq, hash FROM audit_head WHERE id = 1 ${lock}`);
  const head = result.rows[0];
  if (head === undefined) {
    throw new KeelError('audit-tampered', `The audit log in the ${database.description} has lost its head row, so removed records cannot be ruled out; run \`keel audit verify\` and restore the database from a backup.`, {
      details: { database: database.description },
    });
  }
  return { seq: toNumber(head.seq), hash: head.hash };
}

interface Checkpointer {
  appended(): void;
  stop(): Promise<void>;
}

/** Best-effort head checkpoints to a file: a full disk must not stop tool calls, and verify reports what is missing. */
function createCheckpointer(options: PostgresAuditLogOptions, clock: Pick<Clock, 'now'>, head: () => Promise<AuditHead>): Checkpointer {
  const path = options.checkpointPath;
  if (path === undefined) return { appended: () => undefined, stop: async () => undefined };
  let lastSeq = -1;
  let pending = false;
  async function checkpointNow(): Promise<void> {
    try {
      const current = await head();
      if (current.seq === lastSeq || (lastSeq === -1 && current.seq === 0)) return;
      appendCheckpoint(path!, { ...current, at: clock.now() });
      lastSeq = current.seq;
    } catch {
      lastSeq = -1;
    }
  }
  const timer = setInterval(() => {
    if (!pending) return;
    pending = false;
    void checkpointNow();
  }, options.checkpointIntervalMs ?? 2000);
  timer.unref();
  return {
    appended() {
      pending = true;
    },
    async stop() {
      clearInterval(timer);
      await checkpointNow();
    },
  };
}

function toParameters(record: AuditRecord): unknown[] {
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
    record.inputEdited,
    record.resultDigest,
    record.outputChars,
    record.outputBlob,
    record.durationMs,
    record.error?.code ?? null,
    record.error === null ? null : toBytes(record.error.message),
    JSON.stringify(record.findings),
    record.previousHash,
    record.hash,
    record.signature ?? null,
  ];
}

/** Rebuilds the record exactly as written, or says why it cannot: a column edited into something the record never held. */
function fromRow(row: AuditRow): AuditRecord | UnreadableAuditRecord {
  const seq = toNumber(row.seq);
  let input: unknown;
  let findings: readonly AuditFinding[];
  try {
    input = JSON.parse(row.input);
  } catch {
    return { seq, unreadable: 'its input is not valid JSON' };
  }
  try {
    findings = JSON.parse(row.findings) as readonly AuditFinding[];
  } catch {
    return { seq, unreadable: 'its findings are not valid JSON' };
  }
  if ((row.error_code === null) !== (row.error_message === null)) return { seq, unreadable: 'it has only half of an error' };
  return {
    seq,
    at: toNumber(row.at),
    sessionId: row.session_id,
    turn: row.turn,
    callId: row.call_id,
    agent: row.agent,
    tool: row.tool,
    input,
    decision: row.decision as ToolDecision,
    rule: row.rule,
    approver: row.approver,
    inputEdited: row.input_edited,
    resultDigest: row.result_digest,
    outputChars: row.output_chars === null ? null : toNumber(row.output_chars),
    outputBlob: row.output_blob,
    durationMs: row.duration_ms,
    error: row.error_code === null || row.error_message === null ? null : { code: row.error_code, message: fromBytes(row.error_message) },
    findings,
    previousHash: row.previous_hash,
    hash: row.hash,
    ...(row.signature === null ? {} : { signature: row.signature }),
  };
}
