import { statSync } from 'node:fs';
import { chainHash, journalChainGenesis } from './journal-chain.ts';
import { loadJournalHeads } from './journal-heads.ts';
import type { JournalHeads } from './journal-heads.ts';
import { openSqliteDatabase } from './sqlite-database.ts';
import type { SqliteDatabase } from './sqlite-database.ts';

export type DatabaseFindingKind =
  /** `PRAGMA integrity_check` reported damage to the file's pages or indexes. */
  | 'integrity'
  /** The file has no Keel journal. */
  | 'not-a-journal'
  /** Written by a Keel before hash chains; only sequences are checked until a writer upgrades it. */
  | 'not-chained'
  /** A session's events skip one or more seqs. */
  | 'sequence-gap'
  /** An event's stored hash is not the hash of its bytes and its predecessor's hash: the row changed after it was written. */
  | 'chain-broken'
  /** The session row's last seq or head hash disagrees with the session's newest event. */
  | 'head-mismatch'
  /** Events whose session has no session row. */
  | 'orphan-events'
  /** A session in the expected heads is missing from the database. */
  | 'session-lost'
  /** The database ends before a seq the expected heads say was written. */
  | 'tail-lost'
  /** The event at an expected head's seq has a different hash: the history was rewritten or is another one. */
  | 'head-diverged'
  /** The database file can be read by users other than its owner. */
  | 'file-readable-by-others';

export interface DatabaseFinding {
  readonly kind: DatabaseFindingKind;
  /** Errors make the check fail; warnings are reported only. */
  readonly severity: 'error' | 'warning';
  readonly message: string;
  readonly sessionId?: string;
  readonly seq?: number;
}

export interface DatabaseCheckReport {
  readonly path: string;
  /** True when no finding is an error. */
  readonly ok: boolean;
  readonly sessions: number;
  readonly events: number;
  /** How many expected heads were compared; 0 without `expectHeads`. */
  readonly expectedHeads: number;
  readonly findings: readonly DatabaseFinding[];
  /** Findings left out past the limit, so a badly damaged file does not produce an unbounded report. */
  readonly omittedFindings: number;
}

export interface CheckDatabaseOptions {
  /** Heads written by `backupDatabase` (or the path of its heads file): every one must still be in the database. */
  readonly expectHeads?: JournalHeads | string;
  /** At most this many findings are listed; default 200. */
  readonly maxFindings?: number;
}

/** One stored event as the checks read it: its seq, the key that encrypted it, its stored body and hash. */
export interface CheckedEventRow {
  readonly seq: number;
  readonly key_id: string | null;
  readonly body: string;
  readonly hash: string | null;
}

/** A session row as the checks read it. */
export interface CheckedSessionRow {
  readonly session_id: string;
  readonly last_seq: number;
  readonly head_hash: string | null;
}

const pageSize = 512;

/**
 * Checks a Keel database without writing to it: page integrity, every session's seqs and hash chain, the
 * session rows against their events, and optionally heads kept outside the database. Accepts a path (opened
 * read-only, never created) or an open connection, which it leaves open.
 */
export function checkDatabase(source: string | SqliteDatabase, options: CheckDatabaseOptions = {}): DatabaseCheckReport {
  const database = typeof source === 'string' ? openSqliteDatabase({ path: source, readOnly: true }) : source;
  // One snapshot for every read: a session another process appends to between reading its row and its events would
  // otherwise look like a head mismatch on a healthy file.
  const ownSnapshot = !database.inTransaction;
  try {
    if (ownSnapshot) database.exec('BEGIN');
    return checkOpenDatabase(database, options);
  } finally {
    if (ownSnapshot && database.inTransaction) database.exec('COMMIT');
    if (typeof source === 'string') database.close();
  }
}

function checkOpenDatabase(database: SqliteDatabase, options: CheckDatabaseOptions): DatabaseCheckReport {
  const findings = createFindings(options.maxFindings ?? 200);
  checkFileMode(database.name, findings);
  for (const message of database.pragma('integrity_check', { simple: false }) as { integrity_check: string }[]) {
    if (message.integrity_check !== 'ok') findings.add({ kind: 'integrity', severity: 'error', message: message.integrity_check });
  }
  const hasTable = (name: string): boolean => database.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
  if (!hasTable('events') || !hasTable('sessions')) {
    findings.add({ kind: 'not-a-journal', severity: 'error', message: `${database.name} has no Keel journal (no events and sessions tables).` });
    return findings.report(database.name, { sessions: 0, events: 0, expectedHeads: 0 });
  }
  const chained = database.prepare("SELECT 1 FROM pragma_table_info('events') WHERE name = 'hash'").get() !== undefined;
  if (!chained) {
    findings.add({
      kind: 'not-chained',
      severity: 'warning',
      message: 'This database was written by a Keel without journal hash chains: only seqs are checked. Any Keel that writes to it upgrades it.',
    });
  }
  let sessions = 0;
  let events = 0;
  for (const row of sessionRows(database, chained)) {
    sessions += 1;
    events += checkSession(database, row, chained, findings);
  }
  checkOrphans(database, findings);
  const heads = options.expectHeads === undefined ? undefined : typeof options.expectHeads === 'string' ? loadJournalHeads(options.expectHeads) : options.expectHeads;
  if (heads !== undefined) checkExpectedHeads(database, heads, chained, findings);
  return findings.report(database.name, { sessions, events, expectedHeads: heads?.sessions.length ?? 0 });
}

function* sessionRows(database: SqliteDatabase, chained: boolean): Generator<CheckedSessionRow> {
  const page = database.prepare<[string, number], CheckedSessionRow>(
    `SELECT session_id, last_seq, ${chained ? 'head_hash' : 'NULL AS head_hash'} FROM sessions WHERE session_id > ? ORDER BY session_id LIMIT ?`,
  );
  let after = '';
  for (;;) {
    const rows = page.all(after, pageSize);
    yield* rows;
    if (rows.length < pageSize) return;
    after = rows.at(-1)!.session_id;
  }
}

/** Walks one session's events in seq order; returns how many there are. */
function checkSession(database: SqliteDatabase, session: CheckedSessionRow, chained: boolean, findings: Findings): number {
  const page = database.prepare<[string, number, number], CheckedEventRow>(
    `SELECT seq, ${chained ? 'key_id, body, hash' : 'NULL AS key_id, body, NULL AS hash'} FROM events WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
  );
  const walk = startSessionWalk(session.session_id, chained);
  for (;;) {
    const rows = page.all(session.session_id, walk.expectedSeq - 1, pageSize);
    for (const row of rows) visitEvent(walk, row, findings);
    if (rows.length < pageSize) break;
  }
  finishSessionWalk(walk, session, findings);
  return walk.count;
}

/** Where a walk over one session's events stands: the seq and the predecessor hash the next event must have. */
export interface SessionWalk {
  readonly sessionId: string;
  readonly chained: boolean;
  expectedSeq: number;
  previousHash: string | null;
  count: number;
}

export function startSessionWalk(sessionId: string, chained: boolean): SessionWalk {
  return { sessionId, chained, expectedSeq: 1, previousHash: journalChainGenesis, count: 0 };
}

/** Checks the next event of the walk (in seq order): no gap before it, and its hash chains from its predecessor's. */
export function visitEvent(walk: SessionWalk, row: CheckedEventRow, findings: Findings): void {
  const { sessionId } = walk;
  walk.count += 1;
  if (row.seq !== walk.expectedSeq) {
    const missing = row.seq - walk.expectedSeq === 1 ? `seq ${walk.expectedSeq} is` : `seqs ${walk.expectedSeq} to ${row.seq - 1} are`;
    findings.add({ kind: 'sequence-gap', severity: 'error', sessionId, seq: walk.expectedSeq, message: `Session ${sessionId}: ${missing} missing.` });
  } else if (walk.chained && walk.previousHash !== null && row.hash !== chainHash(walk.previousHash, { sessionId, seq: row.seq, keyId: row.key_id, body: row.body })) {
    findings.add({ kind: 'chain-broken', severity: 'error', sessionId, seq: row.seq, message: `Session ${sessionId}: event ${row.seq} does not match its hash: it was changed after it was written.` });
  }
  // The next event is checked against this row's stored hash, so one damaged row is reported once, not for every row after it.
  walk.previousHash = row.hash;
  walk.expectedSeq = row.seq + 1;
}

/** After the last event: the session row must record the newest event's seq and hash. */
export function finishSessionWalk(walk: SessionWalk, session: CheckedSessionRow, findings: Findings): void {
  checkSessionRow(session, { lastSeq: walk.expectedSeq - 1, headHash: walk.previousHash, chained: walk.chained }, findings);
}

function checkSessionRow(session: CheckedSessionRow, newest: { lastSeq: number; headHash: string | null; chained: boolean }, findings: Findings): void {
  const sessionId = session.session_id;
  if (session.last_seq !== newest.lastSeq) {
    const which = session.last_seq > newest.lastSeq ? `events after seq ${newest.lastSeq} are missing` : `the session row is older than its events`;
    findings.add({
      kind: 'head-mismatch',
      severity: 'error',
      sessionId,
      seq: newest.lastSeq,
      message: `Session ${sessionId}: its session row records seq ${session.last_seq} but its newest event is ${newest.lastSeq}; ${which}.`,
    });
  } else if (newest.chained && session.head_hash !== newest.headHash) {
    findings.add({ kind: 'head-mismatch', severity: 'error', sessionId, seq: newest.lastSeq, message: `Session ${sessionId}: the head hash in its session row is not its newest event's hash.` });
  }
}

function checkOrphans(database: SqliteDatabase, findings: Findings): void {
  const orphans = database
    .prepare<[], { session_id: string; count: number }>('SELECT session_id, COUNT(*) AS count FROM events WHERE session_id NOT IN (SELECT session_id FROM sessions) GROUP BY session_id')
    .all();
  for (const orphan of orphans) {
    findings.add({ kind: 'orphan-events', severity: 'error', sessionId: orphan.session_id, message: `Session ${orphan.session_id}: ${orphan.count} event(s) but no session row.` });
  }
}

function checkExpectedHeads(database: SqliteDatabase, heads: JournalHeads, chained: boolean, findings: Findings): void {
  const lastSeq = database.prepare<[string], number>('SELECT last_seq FROM sessions WHERE session_id = ?').pluck();
  const hashAt = database.prepare<[string, number], string | null>(`SELECT ${chained ? 'hash' : 'NULL'} FROM events WHERE session_id = ? AND seq = ?`).pluck();
  for (const head of heads.sessions) {
    checkExpectedHead({ head, takenAt: heads.takenAt, present: lastSeq.get(head.sessionId), chained, hashAtHead: () => hashAt.get(head.sessionId, head.lastSeq) }, findings);
  }
}

/** What the database holds of one session a heads file recorded. */
export interface ExpectedHeadCheck {
  readonly head: JournalHeads['sessions'][number];
  readonly takenAt: number;
  /** The session row's last seq; undefined when the session is missing. */
  readonly present: number | undefined;
  readonly chained: boolean;
  /** The stored hash of the event at the head's seq. */
  readonly hashAtHead: () => string | null | undefined;
}

export function checkExpectedHead({ head, takenAt, present, chained, hashAtHead }: ExpectedHeadCheck, findings: Findings): void {
  const { sessionId } = head;
  if (present === undefined) {
    findings.add({ kind: 'session-lost', severity: 'error', sessionId, message: `Session ${sessionId} (${head.lastSeq} events at ${new Date(takenAt).toISOString()}) is not in the database.` });
  } else if (present < head.lastSeq) {
    findings.add({
      kind: 'tail-lost',
      severity: 'error',
      sessionId,
      seq: present + 1,
      message: `Session ${sessionId} ends at seq ${present}, but had ${head.lastSeq} events at ${new Date(takenAt).toISOString()}: events ${present + 1} to ${head.lastSeq} were lost.`,
    });
  } else if (chained && hashAtHead() !== head.headHash) {
    findings.add({ kind: 'head-diverged', severity: 'error', sessionId, seq: head.lastSeq, message: `Session ${sessionId}: event ${head.lastSeq} is not the one the expected heads recorded; its history was rewritten.` });
  }
}

function checkFileMode(path: string, findings: Findings): void {
  if (process.platform === 'win32' || path === ':memory:' || path === '') return;
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    return;
  }
  if ((mode & 0o077) !== 0) {
    findings.add({
      kind: 'file-readable-by-others',
      severity: 'warning',
      message: `${path} has mode 0${mode.toString(8)}: other users may read it (and its -wal file). Run chmod 600 on the database and its -wal and -shm files.`,
    });
  }
}

/** Collects findings up to a limit, counting the errors. */
export interface Findings {
  add(finding: DatabaseFinding): void;
  report(path: string, counts: { sessions: number; events: number; expectedHeads: number }): DatabaseCheckReport;
}

export function createFindings(limit: number): Findings {
  const listed: DatabaseFinding[] = [];
  let omitted = 0;
  let errors = 0;
  return {
    add(finding) {
      if (finding.severity === 'error') errors += 1;
      if (listed.length < limit) listed.push(finding);
      else omitted += 1;
    },
    report(path, counts) {
      return { path, ok: errors === 0, ...counts, findings: listed, omittedFindings: omitted };
    },
  };
}
