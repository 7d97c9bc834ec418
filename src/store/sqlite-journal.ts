import type { Statement } from 'better-sqlite3';
import { KeelError } from '../errors/index.ts';
import { supportedEventVersions } from '../spec/events.ts';
import type { SessionEvent, SessionStatus } from '../spec/events.ts';
import type { Journal, SessionSummary } from '../spec/journal.ts';
import { eventPlace, keyringFor, missingKey } from './encryption.ts';
import type { EncryptedRecord, EncryptionOptions, Keyring } from './encryption.ts';
import { chainHash, chainLegacySessions, journalChainGenesis } from './journal-chain.ts';
import { checkAppendBatch, checkExpectedSeq, checkListOptions, summaryAfterAppend } from './journal-rules.ts';
import { migrate, openSqliteDatabase } from './sqlite-database.ts';
import type { Migration, SqliteDatabase } from './sqlite-database.ts';
import { groupCommitOf } from './sqlite-group-commit.ts';
import { serializeEvent } from './journal-serialize.ts';
import { toStorageFailure } from './storage-failure.ts';

export type SqliteJournalOptions = (
  | { readonly path: string; readonly busyTimeoutMs?: number }
  /** A database shared with other stores; the journal does not close it. */
  | { readonly database: SqliteDatabase }
) & {
  /**
   * Encrypts event bodies at rest. Defaults to the keys in KEEL_ENCRYPTION_KEY (and KEEL_ENCRYPTION_PREVIOUS_KEYS),
   * none when unset; `false` turns encryption off whatever the environment says (records already encrypted then
   * fail to read with `storage-key-invalid`).
   */
  readonly encryption?: EncryptionOptions | false;
};

/** A `Journal` with synchronous twins of its hot methods, for callers already on the database's thread of work. */
export interface SqliteJournal extends Journal {
  appendSync(sessionId: string, events: readonly SessionEvent[], expectedSeq: number): number;
  lastSeqSync(sessionId: string): number;
}

export const journalMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'events and sessions',
    // Events cluster by session on disk (WITHOUT ROWID), so reading a session is one range scan.
    // `body` is the whole event as JSON; the other columns exist to be queried.
    sql: `
      CREATE TABLE events (
        session_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        at INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (session_id, seq)
      ) WITHOUT ROWID;
      CREATE TABLE sessions (
        session_id TEXT PRIMARY KEY,
        agent TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        status TEXT
      ) WITHOUT ROWID;
      CREATE INDEX sessions_by_start ON sessions (started_at DESC, session_id DESC);
      CREATE INDEX sessions_by_status ON sessions (status, started_at DESC, session_id DESC);
    `,
  },
  {
    version: 2,
    name: 'hash chain and encryption key ids',
    // `key_id` is NULL for a body stored in clear. Sessions written before the chain are chained here, in the
    // upgrade's transaction, so every session of a database at this version has one.
    sql: `
      ALTER TABLE events ADD COLUMN key_id TEXT;
      ALTER TABLE events ADD COLUMN hash TEXT;
      ALTER TABLE sessions ADD COLUMN head_hash TEXT;
    `,
    run: chainLegacySessions,
  },
];


interface SessionRow {
  readonly session_id: string;
  readonly agent: string;
  readonly started_at: number;
  readonly updated_at: number;
  readonly last_seq: number;
  readonly status: SessionStatus | null;
  readonly head_hash: string | null;
}

interface StoredBody {
  readonly keyId: string | null;
  readonly body: string;
}

interface EventRow {
  readonly seq: number;
  readonly key_id: string | null;
  readonly body: string;
}

// Large enough that reading a session is a few queries; small enough to bound memory. Pages, not
// one open cursor, because better-sqlite3 refuses other statements on a connection while a cursor is open.
const readPageSize = 256;

export function createSqliteJournal(options: SqliteJournalOptions): SqliteJournal {
  let keyring: Keyring | undefined;
  const ownsDatabase = !('database' in options);
  const database = 'database' in options ? options.database : openSqliteDatabase(options);
  const path = database.name;
  try {
    keyring = keyringFor(options.encryption);
    migrate(database, 'journal', journalMigrations);
  } catch (error) {
    if (ownsDatabase) database.close();
    throw error;
  }

  const selectSession = database.prepare<[string], SessionRow>('SELECT * FROM sessions WHERE session_id = ?');
  const selectLastSeq = database.prepare<[string], number>('SELECT last_seq FROM sessions WHERE session_id = ?').pluck();
  const insertEvent = database.prepare<[string, number, string, number, string, string | null, string]>(
    'INSERT INTO events (session_id, seq, type, at, body, key_id, hash) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const upsertSession = database.prepare<[string, string, number, number, number, SessionStatus | null, string]>(
    `INSERT INTO sessions (session_id, agent, started_at, updated_at, last_seq, status, head_hash) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (session_id) DO UPDATE SET agent = excluded.agent, started_at = excluded.started_at,
       updated_at = excluded.updated_at, last_seq = excluded.last_seq, status = excluded.status, head_hash = excluded.head_hash`,
  );
  // SQLite rewrites the index entries of every column named in SET, changed or not; the common append
  // names only unindexed columns, so its commit writes no index page.
  const advanceSession = database.prepare<[number, number, string, string]>('UPDATE sessions SET updated_at = ?, last_seq = ?, head_hash = ? WHERE session_id = ?');
  const selectPage = database.prepare<[string, number, number], EventRow>(
    'SELECT seq, key_id, body FROM events WHERE session_id = ? AND seq >= ? ORDER BY seq LIMIT ?',
  );

  // At most four shapes of list query (status filter or not, limit or not), each prepared once.
  const listQueries = new Map<string, Statement<[Record<string, unknown>], SessionRow>>();
  function listQuery(sql: string): Statement<[Record<string, unknown>], SessionRow> {
    let query = listQueries.get(sql);
    if (query === undefined) {
      query = database.prepare<Record<string, unknown>, SessionRow>(sql);
      listQueries.set(sql, query);
    }
    return query;
  }

  // The append after a known head: the session row is moved on only if it still holds that seq and hash, which
  // proves the expected seq and gives the chain's previous hash without reading the row first.
  const advanceKnownSession = database.prepare<[number, number, string, string, number, string]>(
    'UPDATE sessions SET updated_at = ?, last_seq = ?, head_hash = ? WHERE session_id = ? AND last_seq = ? AND head_hash = ?',
  );
  const knownHeads = new SessionHeads();

  // IMMEDIATE takes the write lock before reading last_seq. A deferred transaction would read first, and
  // its upgrade to a writer fails at once with SQLITE_BUSY, without waiting, when another process writes meanwhile.
  function appendRows(sessionId: string, events: readonly SessionEvent[], stored: readonly StoredBody[], expectedSeq: number): number {
    const lastSeq = appendAfterKnownHead(sessionId, events, stored, expectedSeq) ?? appendAfterReadHead(sessionId, events, stored, expectedSeq);
    knownHeads.forgetEnded(sessionId, events);
    return lastSeq;
  }

  /**
   * The common append (no session-start or session-end, so the row's agent, start and status stay) after the head this
   * journal last wrote for the session. Undefined, having written nothing, when the row no longer holds that head
   * (another process appended, a transaction that carried the head rolled back, the session was re-chained): then
   * the row is read as for any append.
   */
  function appendAfterKnownHead(sessionId: string, events: readonly SessionEvent[], stored: readonly StoredBody[], expectedSeq: number): number | undefined {
    const previous = knownHeads.hashAt(sessionId, expectedSeq);
    if (previous === undefined || changesSummaryFields(events)) return undefined;
    const hashes: string[] = [];
    let head = previous;
    for (let index = 0; index < events.length; index += 1) {
      head = chainHash(head, { sessionId, seq: events[index]!.seq, keyId: stored[index]!.keyId, body: stored[index]!.body });
      hashes.push(head);
    }
    const last = events[events.length - 1]!;
    if (advanceKnownSession.run(last.at, last.seq, head, sessionId, expectedSeq, previous).changes !== 1) return undefined;
    for (let index = 0; index < events.length; index += 1) {
      const event = events[index]!;
      insertEvent.run(sessionId, event.seq, event.type, event.at, stored[index]!.body, stored[index]!.keyId, hashes[index]!);
    }
    knownHeads.set(sessionId, last.seq, head);
    return last.seq;
  }

  function appendAfterReadHead(sessionId: string, events: readonly SessionEvent[], stored: readonly StoredBody[], expectedSeq: number): number {
    const row = selectSession.get(sessionId);
    checkExpectedSeq(sessionId, expectedSeq, row?.last_seq ?? 0);
    let head = row?.head_hash ?? journalChainGenesis;
    events.forEach((event, index) => {
      const { keyId, body } = stored[index]!;
      head = chainHash(head, { sessionId, seq: event.seq, keyId, body });
      insertEvent.run(sessionId, event.seq, event.type, event.at, body, keyId, head);
    });
    const summary = summaryAfterAppend(row === undefined ? undefined : toSummary(row), sessionId, events);
    if (row !== undefined && row.agent === summary.agent && row.started_at === summary.startedAt && row.status === summary.status) {
      advanceSession.run(summary.updatedAt, summary.lastSeq, head, sessionId);
    } else {
      upsertSession.run(sessionId, summary.agent, summary.startedAt, summary.updatedAt, summary.lastSeq, summary.status, head);
    }
    knownHeads.set(sessionId, summary.lastSeq, head);
    return summary.lastSeq;
  }
  const appendInTransaction = database.transaction(appendRows);

  const groupCommit = groupCommitOf(database);
  let closed = false;
  function ensureOpen(): void {
    if (closed) throw new KeelError('storage-failure', `The journal at ${path} is closed.`, { retryable: false, details: { path } });
  }

  function guarded<T>(action: string, work: () => T): T {
    ensureOpen();
    try {
      return work();
    } catch (error) {
      throw toStorageFailure(error, { path, action });
    }
  }

  // Serialized and encrypted when the append is made, before any lock is taken, so other writers wait less.
  // Serialised outside `guarded`: an event that is not JSON is the caller's error, not the store's.
  function storedBodies(sessionId: string, events: readonly SessionEvent[]): StoredBody[] {
    const bodies = events.map((event) => serializeEvent(sessionId, event));
    return guarded(`encrypting events of session ${sessionId}`, () =>
      bodies.map((json, index): StoredBody => (keyring === undefined ? { keyId: null, body: json } : keyring.encrypt(json, eventPlace(path, sessionId, events[index]!.seq)))),
    );
  }

  function appendSync(sessionId: string, events: readonly SessionEvent[], expectedSeq: number): number {
    checkAppendBatch(sessionId, events, expectedSeq);
    const stored = events.length === 0 ? [] : storedBodies(sessionId, events);
    return guarded(`appending to session ${sessionId}`, () => {
      if (events.length === 0) {
        checkExpectedSeq(sessionId, expectedSeq, selectLastSeq.get(sessionId) ?? 0);
        return expectedSeq;
      }
      if (groupCommit === undefined) return appendInTransaction.immediate(sessionId, events, stored, expectedSeq);
      // Commits the deferred and queued writes of the stores on this connection with it.
      return groupCommit.durable(() => appendInTransaction.immediate(sessionId, events, stored, expectedSeq));
    });
  }

  /** With group commit, an append shares one commit with the appends of other sessions made in the same turn of the event loop. */
  async function append(sessionId: string, events: readonly SessionEvent[], expectedSeq: number): Promise<number> {
    if (groupCommit === undefined || events.length === 0) return appendSync(sessionId, events, expectedSeq);
    checkAppendBatch(sessionId, events, expectedSeq);
    const action = `appending to session ${sessionId}`;
    const stored = storedBodies(sessionId, events);
    try {
      return await groupCommit.queued(() => appendRows(sessionId, events, stored, expectedSeq), sessionId);
    } catch (error) {
      throw toStorageFailure(error, { path, action });
    }
  }

  function lastSeqSync(sessionId: string): number {
    return guarded(`reading the last seq of session ${sessionId}`, () => selectLastSeq.get(sessionId) ?? 0);
  }

  function parseEvent(sessionId: string, row: EventRow): SessionEvent {
    const corrupt = (problem: string, cause?: unknown): KeelError =>
      new KeelError('journal-corrupt', `Event ${row.seq} of session ${sessionId} in ${path} ${problem}.`, {
        cause,
        details: { path, sessionId, seq: row.seq },
      });
    let event: SessionEvent;
    const json = row.key_id === null ? row.body : decrypt(sessionId, row.seq, { keyId: row.key_id, body: row.body });
    try {
      event = JSON.parse(json) as SessionEvent;
    } catch (error) {
      throw corrupt('is not valid JSON', error);
    }
    if (event === null || typeof event !== 'object') throw corrupt('is not a JSON object');
    if (!supportedEventVersions.includes(event.v)) {
      throw corrupt(`has version ${String(event.v)}, which this Keel cannot read (it reads ${supportedEventVersions.join(', ')}); it was probably written by a newer Keel`);
    }
    if (event.seq !== row.seq || event.sessionId !== sessionId) throw corrupt(`carries session ${String(event.sessionId)} and seq ${String(event.seq)} in its body`);
    return event;
  }

  function decrypt(sessionId: string, seq: number, record: EncryptedRecord): string {
    const place = eventPlace(path, sessionId, seq);
    if (keyring === undefined) throw missingKey(record.keyId, place, []);
    return keyring.decrypt(record, place);
  }

  return {
    appendSync,
    lastSeqSync,
    append,
    async *read(sessionId, fromSeq = 1) {
      let next = fromSeq;
      for (;;) {
        const rows = guarded(`reading session ${sessionId}`, () => selectPage.all(sessionId, next, readPageSize));
        for (const row of rows) yield parseEvent(sessionId, row);
        const last = rows.at(-1);
        if (last === undefined || rows.length < readPageSize) return;
        next = last.seq + 1;
      }
    },
    async lastSeq(sessionId) {
      return lastSeqSync(sessionId);
    },
    async listSessions(options = {}) {
      checkListOptions(options);
      const { status, limit } = options;
      const filter = status === undefined ? '' : status === 'open' ? 'WHERE status IS NULL' : 'WHERE status = @status';
      const parameters = { ...(filter.includes('@status') ? { status } : {}), ...(limit === undefined ? {} : { limit }) };
      const sql = `SELECT * FROM sessions ${filter} ORDER BY started_at DESC, session_id DESC ${limit === undefined ? '' : 'LIMIT @limit'}`;
      return guarded('listing sessions', () => listQuery(sql).all(parameters).map(toSummary));
    },
    async close() {
      if (closed) return;
      closed = true;
      if (ownsDatabase) database.close();
    },
  };
}

/** Whether a batch changes what the session row says besides its head: its agent and start, or its status. */
function changesSummaryFields(events: readonly SessionEvent[]): boolean {
  for (const event of events) if (event.type === 'session-start' || event.type === 'session-end') return true;
  return false;
}

/** At most this many heads are kept; past it they are forgotten (the next append of each reads its row). */
const maxKnownHeads = 10_000;

/**
 * The head (seq and chain hash) this journal last wrote for each open session. Only a hint: an append uses it only
 * through an UPDATE that checks the row still holds it, inside the write lock, so a stale head costs a read, never a
 * wrong chain or a missed conflict.
 */
class SessionHeads {
  private readonly heads = new Map<string, { readonly seq: number; readonly hash: string }>();

  hashAt(sessionId: string, seq: number): string | undefined {
    const head = this.heads.get(sessionId);
    return head?.seq === seq ? head.hash : undefined;
  }

  set(sessionId: string, seq: number, hash: string): void {
    if (this.heads.size >= maxKnownHeads && !this.heads.has(sessionId)) this.heads.clear();
    this.heads.set(sessionId, { seq, hash });
  }

  /** A session that ended is forgotten: few sessions append after their end. */
  forgetEnded(sessionId: string, events: readonly SessionEvent[]): void {
    if (events.some((event) => event.type === 'session-end')) this.heads.delete(sessionId);
  }
}

function toSummary(row: SessionRow): SessionSummary {
  return {
    sessionId: row.session_id,
    agent: row.agent,
    startedAt: row.started_at,
    updatedAt: row.updated_at,
    lastSeq: row.last_seq,
    status: row.status,
  };
}
