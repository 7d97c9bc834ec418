import { KeelError } from '../../errors/index.ts';
import { supportedEventVersions } from '../../spec/events.ts';
import type { SessionEvent, SessionStatus } from '../../spec/events.ts';
import type { Journal, SessionSummary } from '../../spec/journal.ts';
import { eventPlace, keyringFor, missingKey } from '../encryption.ts';
import type { EncryptionOptions, Keyring } from '../encryption.ts';
import { chainHash, journalChainGenesis } from '../journal-chain.ts';
import { LruCache } from '../../util/index.ts';
import { checkAppendBatch, checkExpectedSeq, checkListOptions, summaryAfterAppend } from '../journal-rules.ts';
import { isUniqueViolation } from './postgres-failure.ts';
import { guardedQuery } from './postgres-database.ts';
import type { SqlExecutor } from './postgres-database.ts';
import { migrationOnce } from './postgres-migrations.ts';
import type { PostgresMigration } from './postgres-migrations.ts';
import { closedStoreError, databaseOf } from './postgres-options.ts';
import type { PostgresStoreTarget } from './postgres-options.ts';

export type PostgresJournalOptions = PostgresStoreTarget & {
  /** Encrypts event bodies at rest, as the SQLite journal does (KEEL_ENCRYPTION_KEY by default; `false` turns it off). */
  readonly encryption?: EncryptionOptions | false;
};

export const postgresJournalMigrations: readonly PostgresMigration[] = [
  {
    version: 1,
    name: 'events and sessions',
    // The primary key (session_id, seq) is the optimistic-concurrency rule's last line: two writers that both
    // read the same last seq cannot both insert the next one. `body` is the event's JSON as text, not jsonb,
    // so it reads back byte for byte; `hash` chains each session's events as in SQLite. Ids collate as bytes, so
    // sessions list in the same order as in SQLite whatever the database's locale.
    sql: `
      CREATE TABLE events (
        session_id text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        type text NOT NULL,
        at bigint NOT NULL,
        body text NOT NULL,
        key_id text,
        hash text NOT NULL,
        PRIMARY KEY (session_id, seq)
      );
      CREATE TABLE sessions (
        session_id text COLLATE "C" PRIMARY KEY,
        agent text NOT NULL,
        started_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        last_seq bigint NOT NULL,
        status text,
        head_hash text NOT NULL
      );
      CREATE INDEX sessions_by_start ON sessions (started_at DESC, session_id DESC);
      CREATE INDEX sessions_by_status ON sessions (status, started_at DESC, session_id DESC);
    `,
  },
  {
    version: 2,
    name: 'open sessions by start',
    // Workers and `keel sessions --status open` look for sessions without an end; a partial index keeps that
    // lookup small however many finished sessions the table holds.
    sql: 'CREATE INDEX sessions_open_by_start ON sessions (started_at DESC, session_id DESC) WHERE status IS NULL;',
  },
];

interface SessionRow {
  readonly session_id: string;
  readonly agent: string;
  readonly started_at: string | number;
  readonly updated_at: string | number;
  readonly last_seq: string | number;
  readonly status: SessionStatus | null;
  readonly head_hash: string;
}

interface EventRow {
  readonly seq: string | number;
  readonly key_id: string | null;
  readonly body: string;
}

interface StoredBody {
  readonly keyId: string | null;
  readonly body: string;
}

const readPageSize = 256;
// Sessions whose head an appending process remembers; a forgotten one costs one locked append.
const knownHeadCapacity = 10_000;

interface KnownHead {
  readonly summary: SessionSummary;
  readonly head: string;
}

/**
 * The journal in PostgreSQL. An append locks the session's row (`FOR UPDATE`), checks `expectedSeq` against its
 * last seq and inserts the batch in one transaction; a first append races on the events' primary key instead, and
 * the loser gets the same retryable `journal-conflict` as a stale writer. A process appending again to a session
 * whose head it knows does it in one conditional statement. Safe for any number of processes.
 */
export function createPostgresJournal(options: PostgresJournalOptions): Journal {
  const { database, owned } = databaseOf(options);
  const keyring: Keyring | undefined = keyringFor(options.encryption);
  const ready = migrationOnce(database, 'journal', postgresJournalMigrations);
  let closed = false;

  async function guarded<T>(action: string, work: () => Promise<T>): Promise<T> {
    if (closed) throw closedStoreError('journal', database);
    return guardedQuery(database, action, async () => {
      await ready;
      return work();
    });
  }

  async function lastSeqOf(executor: SqlExecutor, sessionId: string): Promise<number> {
    const result = await executor.query<{ last_seq: string }>('SELECT last_seq FROM sessions WHERE session_id = $1', [sessionId]);
    return Number(result.rows[0]?.last_seq ?? 0);
  }

  // What this process last wrote or read of each session it appends to. The writer holding a session's lease
  // appends again and again; knowing the head, it appends in one statement (below) instead of a locked transaction.
  const knownHeads = new LruCache<KnownHead>(knownHeadCapacity);

  /** The batch's rows, chained after `head`. */
  function rowsOf(sessionId: string, events: readonly SessionEvent[], stored: readonly StoredBody[], head: string): { readonly parameters: unknown[]; readonly head: string } {
    let next = head;
    const hashes = events.map((event, index) => {
      next = chainHash(next, { sessionId, seq: event.seq, keyId: stored[index]!.keyId, body: stored[index]!.body });
      return next;
    });
    const parameters = [
      sessionId,
      events.map((event) => event.seq),
      events.map((event) => event.type),
      events.map((event) => event.at),
      stored.map((body) => body.body),
      stored.map((body) => body.keyId),
      hashes,
    ];
    return { parameters, head: next };
  }

  /**
   * One round trip: the session row advances only if it is still at `expectedSeq` with the head this process
   * knows (the row lock makes a concurrent writer wait and then fail that condition), and the events are inserted
   * only if it did. Undefined when the condition failed or the head is unknown: the locked path decides.
   */
  async function appendAfterKnownHead(sessionId: string, events: readonly SessionEvent[], stored: readonly StoredBody[], expectedSeq: number): Promise<number | undefined> {
    const known = knownHeads.get(sessionId);
    if (known === undefined || known.summary.lastSeq !== expectedSeq) return undefined;
    const { parameters, head } = rowsOf(sessionId, events, stored, known.head);
    const summary = summaryAfterAppend(known.summary, sessionId, events);
    const result = await database.query(
      `WITH advanced AS (
         UPDATE sessions SET agent = $8, started_at = $9, updated_at = $10, last_seq = $11, status = $12, head_hash = $13
          WHERE session_id = $1 AND last_seq = $14 AND head_hash = $15 RETURNING 1
       )
       INSERT INTO events (session_id, seq, type, at, body, key_id, hash)
       SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[]) WHERE EXISTS (SELECT 1 FROM advanced)`,
      [...parameters, summary.agent, summary.startedAt, summary.updatedAt, summary.lastSeq, summary.status, head, expectedSeq, known.head],
    );
    if (result.rowCount !== events.length) return undefined;
    knownHeads.set(sessionId, { summary, head });
    return summary.lastSeq;
  }

  async function appendBatch(sessionId: string, events: readonly SessionEvent[], stored: readonly StoredBody[], expectedSeq: number): Promise<number> {
    const fast = await appendAfterKnownHead(sessionId, events, stored, expectedSeq);
    if (fast !== undefined) return fast;
    try {
      return await database.transaction(async (transaction) => {
        const found = await transaction.query<SessionRow>('SELECT * FROM sessions WHERE session_id = $1 FOR UPDATE', [sessionId]);
        const row = found.rows[0];
        checkExpectedSeq(sessionId, expectedSeq, row === undefined ? 0 : Number(row.last_seq));
        const { parameters, head } = rowsOf(sessionId, events, stored, row?.head_hash ?? journalChainGenesis);
        await transaction.query(
          `INSERT INTO events (session_id, seq, type, at, body, key_id, hash)
           SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[])`,
          parameters,
        );
        const summary = summaryAfterAppend(row === undefined ? undefined : toSummary(row), sessionId, events);
        await transaction.query(
          `INSERT INTO sessions (session_id, agent, started_at, updated_at, last_seq, status, head_hash) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (session_id) DO UPDATE SET agent = excluded.agent, started_at = excluded.started_at,
             updated_at = excluded.updated_at, last_seq = excluded.last_seq, status = excluded.status, head_hash = excluded.head_hash`,
          [sessionId, summary.agent, summary.startedAt, summary.updatedAt, summary.lastSeq, summary.status, head],
        );
        return { summary, head };
      }).then(({ summary, head }) => {
        knownHeads.set(sessionId, { summary, head });
        return summary.lastSeq;
      });
    } catch (error) {
      // Two first appends to a new session: neither had a row to lock, and the events' key let one through.
      if (!isUniqueViolation(error)) throw error;
      checkExpectedSeq(sessionId, expectedSeq, await lastSeqOf(database, sessionId));
      throw error;
    }
  }

  function parseEvent(sessionId: string, row: EventRow): SessionEvent {
    const seq = Number(row.seq);
    const corrupt = (problem: string, cause?: unknown): KeelError =>
      new KeelError('journal-corrupt', `Event ${seq} of session ${sessionId} in the ${database.description} ${problem}.`, {
        cause,
        details: { database: database.description, sessionId, seq },
      });
    const json = row.key_id === null ? row.body : decrypt(sessionId, seq, row.key_id, row.body);
    let event: SessionEvent;
    try {
      event = JSON.parse(json) as SessionEvent;
    } catch (error) {
      throw corrupt('is not valid JSON', error);
    }
    if (event === null || typeof event !== 'object') throw corrupt('is not a JSON object');
    if (!supportedEventVersions.includes(event.v)) {
      throw corrupt(`has version ${String(event.v)}, which this Keel cannot read (it reads ${supportedEventVersions.join(', ')}); it was probably written by a newer Keel`);
    }
    if (event.seq !== seq || event.sessionId !== sessionId) throw corrupt(`carries session ${String(event.sessionId)} and seq ${String(event.seq)} in its body`);
    return event;
  }

  function decrypt(sessionId: string, seq: number, keyId: string, body: string): string {
    const place = eventPlace(database.description, sessionId, seq);
    if (keyring === undefined) throw missingKey(keyId, place, []);
    return keyring.decrypt({ keyId, body }, place);
  }

  return {
    async append(sessionId, events, expectedSeq) {
      checkAppendBatch(sessionId, events, expectedSeq);
      // Serialized and encrypted before the transaction, so the session's row stays locked for less time.
      const stored = events.map((event): StoredBody => {
        const json = JSON.stringify(event);
        return keyring === undefined ? { keyId: null, body: json } : keyring.encrypt(json, eventPlace(database.description, sessionId, event.seq));
      });
      return guarded(`appending to session ${sessionId}`, async () => {
        if (events.length === 0) {
          checkExpectedSeq(sessionId, expectedSeq, await lastSeqOf(database, sessionId));
          return expectedSeq;
        }
        return appendBatch(sessionId, events, stored, expectedSeq);
      });
    },
    async *read(sessionId, fromSeq = 1) {
      let next = fromSeq;
      for (;;) {
        const page = await guarded(`reading session ${sessionId}`, () =>
          database.query<EventRow>('SELECT seq, key_id, body FROM events WHERE session_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3', [sessionId, next, readPageSize]),
        );
        for (const row of page.rows) yield parseEvent(sessionId, row);
        const last = page.rows.at(-1);
        if (last === undefined || page.rows.length < readPageSize) return;
        next = Number(last.seq) + 1;
      }
    },
    async lastSeq(sessionId) {
      return guarded(`reading the last seq of session ${sessionId}`, () => lastSeqOf(database, sessionId));
    },
    async listSessions(options = {}) {
      checkListOptions(options);
      const { status, limit } = options;
      const params: unknown[] = [];
      let filter = '';
      if (status === 'open') filter = 'WHERE status IS NULL';
      else if (status !== undefined) {
        params.push(status);
        filter = `WHERE status = $${params.length}`;
      }
      let limitClause = '';
      if (limit !== undefined) {
        params.push(limit);
        limitClause = `LIMIT $${params.length}`;
      }
      const sql = `SELECT * FROM sessions ${filter} ORDER BY started_at DESC, session_id DESC ${limitClause}`;
      const result = await guarded('listing sessions', () => database.query<SessionRow>(sql, params));
      return result.rows.map(toSummary);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (owned) await database.close();
    },
  };
}

function toSummary(row: SessionRow): SessionSummary {
  return {
    sessionId: row.session_id,
    agent: row.agent,
    startedAt: Number(row.started_at),
    updatedAt: Number(row.updated_at),
    lastSeq: Number(row.last_seq),
    status: row.status,
  };
}
