import { readFileSync } from 'node:fs';
import { KeelError } from '../errors/index.ts';
import type { SqliteDatabase } from './sqlite-database.ts';

/**
 * Where each session's journal stood at one moment (a backup): kept apart from the database, it is what lets a
 * check see events that were lost as a whole, which the database alone cannot show (see docs/storage.md).
 */
export interface JournalHeads {
  readonly format: 'keel-journal-heads';
  readonly version: 1;
  /** Epoch milliseconds at which the heads were read. */
  readonly takenAt: number;
  readonly sessions: readonly JournalHead[];
}

export interface JournalHead {
  readonly sessionId: string;
  readonly lastSeq: number;
  /** The chain hash of event `lastSeq`. */
  readonly headHash: string;
}

/** The heads of every session of a database at the journal's current schema. */
export function readJournalHeads(database: SqliteDatabase, takenAt: number): JournalHeads {
  const rows = database
    .prepare<[], { session_id: string; last_seq: number; head_hash: string | null }>('SELECT session_id, last_seq, head_hash FROM sessions ORDER BY session_id')
    .all();
  const sessions = rows.flatMap((row) => (row.head_hash === null ? [] : [{ sessionId: row.session_id, lastSeq: row.last_seq, headHash: row.head_hash }]));
  return { format: 'keel-journal-heads', version: 1, takenAt, sessions };
}

/** Reads a heads file written by `backupDatabase`, refusing anything else with a message naming the file. */
export function loadJournalHeads(path: string): JournalHeads {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new KeelError('invalid-argument', `Cannot read the journal heads file ${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error, details: { path } });
  }
  if (!isJournalHeads(parsed)) {
    throw new KeelError('invalid-argument', `${path} is not a journal heads file written by \`keel backup\` (format keel-journal-heads, version 1).`, { details: { path } });
  }
  return parsed;
}

function isJournalHeads(value: unknown): value is JournalHeads {
  if (value === null || typeof value !== 'object') return false;
  const heads = value as Partial<JournalHeads>;
  return (
    heads.format === 'keel-journal-heads' &&
    heads.version === 1 &&
    typeof heads.takenAt === 'number' &&
    Array.isArray(heads.sessions) &&
    heads.sessions.every(
      (head: Partial<JournalHead>) =>
        head !== null && typeof head === 'object' && typeof head.sessionId === 'string' && Number.isSafeInteger(head.lastSeq) && typeof head.headHash === 'string',
    )
  );
}
