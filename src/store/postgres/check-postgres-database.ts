import { createFindings, finishSessionWalk, startSessionWalk, visitEvent, checkExpectedHead } from '../check-database.ts';
import type { CheckDatabaseOptions, CheckedEventRow, CheckedSessionRow, DatabaseCheckReport, Findings } from '../check-database.ts';
import { loadJournalHeads } from '../journal-heads.ts';
import { guardedQuery } from './postgres-database.ts';
import type { PostgresDatabase } from './postgres-database.ts';

const pageSize = 512;

interface StoredSessionRow {
  readonly session_id: string;
  readonly last_seq: string | number;
  readonly head_hash: string | null;
}

interface StoredEventRow {
  readonly seq: string | number;
  readonly key_id: string | null;
  readonly body: string;
  readonly hash: string | null;
}

/**
 * `checkDatabase` for the journal in PostgreSQL: every session's seqs and hash chain (the same chain as in SQLite),
 * the session rows against their events, events without a session row, and optionally heads kept outside the
 * database (a heads file of `keel backup` on SQLite, or written by `writeJournalHeads`). Reads only, a page at a time;
 * creates no table. Page integrity is the server's (`amcheck`, checksums), not checked here.
 */
export async function checkPostgresDatabase(database: PostgresDatabase, options: CheckDatabaseOptions = {}): Promise<DatabaseCheckReport> {
  return guardedQuery(database, 'checking the journal', async () => {
    const findings = createFindings(options.maxFindings ?? 200);
    const present = await database.query<{ events: boolean; sessions: boolean }>('SELECT to_regclass($1) IS NOT NULL AS events, to_regclass($2) IS NOT NULL AS sessions', [
      `${database.schema}.events`,
      `${database.schema}.sessions`,
    ]);
    if (present.rows[0]?.events !== true || present.rows[0]?.sessions !== true) {
      findings.add({ kind: 'not-a-journal', severity: 'error', message: `The ${database.description} has no Keel journal (no events and sessions tables).` });
      return findings.report(database.description, { sessions: 0, events: 0, expectedHeads: 0 });
    }
    let sessions = 0;
    let events = 0;
    for await (const session of sessionRows(database)) {
      sessions += 1;
      events += await checkSession(database, session, findings);
    }
    await checkOrphans(database, findings);
    const heads = options.expectHeads === undefined ? undefined : typeof options.expectHeads === 'string' ? loadJournalHeads(options.expectHeads) : options.expectHeads;
    if (heads !== undefined) {
      for (const head of heads.sessions) {
        const stored = await database.query<{ last_seq: string | number; hash: string | null }>(
          'SELECT s.last_seq, e.hash FROM sessions s LEFT JOIN events e ON e.session_id = s.session_id AND e.seq = $2 WHERE s.session_id = $1',
          [head.sessionId, head.lastSeq],
        );
        const row = stored.rows[0];
        checkExpectedHead({ head, takenAt: heads.takenAt, present: row === undefined ? undefined : Number(row.last_seq), chained: true, hashAtHead: () => row?.hash }, findings);
      }
    }
    return findings.report(database.description, { sessions, events, expectedHeads: heads?.sessions.length ?? 0 });
  });
}

async function* sessionRows(database: PostgresDatabase): AsyncGenerator<CheckedSessionRow> {
  let after = '';
  for (;;) {
    const { rows } = await database.query<StoredSessionRow>('SELECT session_id, last_seq, head_hash FROM sessions WHERE session_id > $1 ORDER BY session_id LIMIT $2', [after, pageSize]);
    for (const row of rows) yield { session_id: row.session_id, last_seq: Number(row.last_seq), head_hash: row.head_hash };
    if (rows.length < pageSize) return;
    after = rows.at(-1)!.session_id;
  }
}

/** Walks one session's events in seq order with the SQLite check's rules; returns how many there are. */
async function checkSession(database: PostgresDatabase, session: CheckedSessionRow, findings: Findings): Promise<number> {
  const walk = startSessionWalk(session.session_id, true);
  for (;;) {
    const { rows } = await database.query<StoredEventRow>('SELECT seq, key_id, body, hash FROM events WHERE session_id = $1 AND seq > $2 ORDER BY seq LIMIT $3', [
      session.session_id,
      walk.expectedSeq - 1,
      pageSize,
    ]);
    for (const row of rows) visitEvent(walk, toCheckedEvent(row), findings);
    if (rows.length < pageSize) break;
  }
  finishSessionWalk(walk, session, findings);
  return walk.count;
}

function toCheckedEvent(row: StoredEventRow): CheckedEventRow {
  return { seq: Number(row.seq), key_id: row.key_id, body: row.body, hash: row.hash };
}

async function checkOrphans(database: PostgresDatabase, findings: Findings): Promise<void> {
  const { rows } = await database.query<{ session_id: string; count: string | number }>(
    'SELECT e.session_id, COUNT(*) AS count FROM events e WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.session_id = e.session_id) GROUP BY e.session_id ORDER BY e.session_id LIMIT 1000',
  );
  for (const orphan of rows) {
    findings.add({ kind: 'orphan-events', severity: 'error', sessionId: orphan.session_id, message: `Session ${orphan.session_id}: ${Number(orphan.count)} event(s) but no session row.` });
  }
}
