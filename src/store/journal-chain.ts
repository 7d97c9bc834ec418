import { createHash, hash } from 'node:crypto';
import type { SqliteDatabase } from './sqlite-database.ts';

/**
 * The per-session hash chain of the SQLite journal. Each event row stores
 * SHA-256(previous hash, session id, seq, key id, body) over the bytes as stored (ciphertext when encrypted),
 * so a backup can be checked without the encryption key; the session row stores the newest hash and seq,
 * written in the same transaction as the events. It detects rows changed, lost or reordered inside one
 * database. It is not a signature: anyone who can write the file can recompute it.
 */
export const journalChainGenesis = 'keel-journal-chain-v1';

export interface ChainedRecord {
  readonly sessionId: string;
  readonly seq: number;
  readonly keyId: string | null;
  readonly body: string;
}

/** Above this many characters a body is hashed in a stream rather than copied into one string first. */
const oneShotLimit = 64 * 1024;

export function chainHash(previous: string, record: ChainedRecord): string {
  const prefix = `${previous}\n${record.sessionId}\n${record.seq}\n${record.keyId ?? ''}\n`;
  // The same bytes either way; the one-shot hash skips a Hash object per event, about three times faster for events of a few hundred bytes.
  if (record.body.length <= oneShotLimit) return hash('sha256', prefix + record.body, 'hex');
  return createHash('sha256').update(prefix).update(record.body).digest('hex');
}

interface StoredEventRow {
  readonly seq: number;
  readonly key_id: string | null;
  readonly body: string;
}

const pageSize = 512;

/**
 * Recomputes a session's chain from its first event and stores it, with the head in the session row.
 * Runs inside the caller's transaction: the journal upgrade (events written before the chain existed) and
 * re-encryption (every body changes) both use it. `rewrite` may replace a body before it is hashed.
 */
export function rechainSession(
  database: SqliteDatabase,
  sessionId: string,
  rewrite?: (row: StoredEventRow) => { readonly keyId: string | null; readonly body: string } | undefined,
): number {
  const page = database.prepare<[string, number, number], StoredEventRow>('SELECT seq, key_id, body FROM events WHERE session_id = ? AND seq > ? ORDER BY seq LIMIT ?');
  const update = database.prepare<[string | null, string, string, string, number]>('UPDATE events SET key_id = ?, body = ?, hash = ? WHERE session_id = ? AND seq = ?');
  let previous = journalChainGenesis;
  let after = 0;
  let rewritten = 0;
  for (;;) {
    const rows = page.all(sessionId, after, pageSize);
    for (const row of rows) {
      const replacement = rewrite?.(row);
      if (replacement !== undefined) rewritten += 1;
      const stored = replacement ?? { keyId: row.key_id, body: row.body };
      const record = { sessionId, seq: row.seq, keyId: stored.keyId, body: stored.body };
      previous = chainHash(previous, record);
      update.run(record.keyId, record.body, previous, sessionId, row.seq);
    }
    if (rows.length < pageSize) break;
    after = rows.at(-1)!.seq;
  }
  database.prepare<[string, string]>('UPDATE sessions SET head_hash = ? WHERE session_id = ?').run(previous, sessionId);
  return rewritten;
}

/** The journal upgrade's data step: chains every session written before hash chains existed. */
export function chainLegacySessions(database: SqliteDatabase): void {
  const sessions = database.prepare<[], string>('SELECT session_id FROM sessions WHERE head_hash IS NULL ORDER BY session_id').pluck().all();
  for (const sessionId of sessions) rechainSession(database, sessionId);
}
