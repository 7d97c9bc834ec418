import { KeelError } from '../errors/index.ts';
import type { SessionStatus } from '../spec/events.ts';
import type { SqliteDatabase } from '../store/index.ts';
import { writeWhenFree } from './server-database.ts';

/** The tenant that owns a session the API started, and who started it. */
export interface SessionOwner {
  readonly sessionId: string;
  readonly tenant: string;
  readonly agent: string;
  readonly keyId: string | null;
  readonly priority: 'interactive' | 'batch';
  readonly createdAt: number;
  /** Set once the session is known to have ended; open sessions' status comes from the journal. */
  readonly endedStatus: SessionStatus | null;
}

export interface OwnerRow {
  readonly session_id: string;
  readonly tenant: string;
  readonly agent: string;
  readonly key_id: string | null;
  readonly priority: string;
  readonly created_at: number;
  readonly ended_status: string | null;
}

export interface OwnerPageQuery {
  readonly tenant: string;
  readonly agent?: string | undefined;
  readonly since?: number | undefined;
  readonly until?: number | undefined;
  /** Only sessions that ended with this status (`ended`), or only those not known to have ended (`open`). */
  readonly ended?: SessionStatus | 'open' | undefined;
  /** Continue after this position (exclusive), newest first. */
  readonly after?: OwnerCursor | undefined;
  readonly limit: number;
}

/** A position in the newest-first order of a tenant's sessions. */
export interface OwnerCursor {
  readonly createdAt: number;
  readonly sessionId: string;
}

/** The tenant of each session the API started, in the journal's database (SQLite or PostgreSQL). */
export interface SessionOwners {
  record(owner: Omit<SessionOwner, 'endedStatus'>): Promise<void>;
  get(sessionId: string): Promise<SessionOwner | undefined>;
  markEnded(sessionId: string, status: SessionStatus): Promise<void>;
  page(query: OwnerPageQuery): Promise<SessionOwner[]>;
}

/** The WHERE clause and values of a page query; `placeholder(n)` writes the n-th parameter (`?` or `$n`). */
export function pageFilter(query: OwnerPageQuery, placeholder: (index: number) => string): { where: string; values: (string | number)[] } {
  const where: string[] = [];
  const values: (string | number)[] = [];
  const next = (value: string | number): string => {
    values.push(value);
    return placeholder(values.length);
  };
  where.push(`tenant = ${next(query.tenant)}`);
  if (query.agent !== undefined) where.push(`agent = ${next(query.agent)}`);
  if (query.since !== undefined) where.push(`created_at >= ${next(query.since)}`);
  if (query.until !== undefined) where.push(`created_at < ${next(query.until)}`);
  if (query.ended === 'open') where.push('ended_status IS NULL');
  else if (query.ended !== undefined) where.push(`ended_status = ${next(query.ended)}`);
  if (query.after !== undefined) {
    const createdAt = next(query.after.createdAt);
    const again = next(query.after.createdAt);
    where.push(`(created_at < ${createdAt} OR (created_at = ${again} AND session_id < ${next(query.after.sessionId)}))`);
  }
  return { where: where.join(' AND '), values };
}

export function createSessionOwners(database: SqliteDatabase): SessionOwners {
  const insert = database.prepare('INSERT INTO server_sessions (session_id, tenant, agent, key_id, priority, created_at) VALUES (?, ?, ?, ?, ?, ?)');
  const byId = database.prepare<[string], OwnerRow>('SELECT * FROM server_sessions WHERE session_id = ?');
  const ended = database.prepare('UPDATE server_sessions SET ended_status = ? WHERE session_id = ? AND ended_status IS NULL');
  return {
    async record(owner) {
      try {
        await writeWhenFree(database, () => insert.run(owner.sessionId, owner.tenant, owner.agent, owner.keyId, owner.priority, owner.createdAt));
      } catch (error) {
        if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new KeelError('invalid-argument', `Session ${owner.sessionId} already exists.`);
        throw error;
      }
    },
    async get(sessionId) {
      const row = byId.get(sessionId);
      return row === undefined ? undefined : toOwner(row);
    },
    async markEnded(sessionId, status) {
      await writeWhenFree(database, () => ended.run(status, sessionId));
    },
    async page(query) {
      const { where, values } = pageFilter(query, () => '?');
      const sql = `SELECT * FROM server_sessions WHERE ${where} ORDER BY created_at DESC, session_id DESC LIMIT ?`;
      return database.prepare<(string | number)[], OwnerRow>(sql).all(...values, query.limit).map(toOwner);
    },
  };
}

export function toOwner(row: OwnerRow): SessionOwner {
  return {
    sessionId: row.session_id,
    tenant: row.tenant,
    agent: row.agent,
    keyId: row.key_id,
    priority: row.priority === 'batch' ? 'batch' : 'interactive',
    createdAt: Number(row.created_at),
    endedStatus: row.ended_status === null ? null : (row.ended_status as SessionStatus),
  };
}

/** Cursors are opaque to clients: base64url of `createdAt:sessionId`. */
export function encodeCursor(cursor: OwnerCursor): string {
  return Buffer.from(`${cursor.createdAt}:${cursor.sessionId}`).toString('base64url');
}

export function decodeCursor(text: string): OwnerCursor {
  const decoded = Buffer.from(text, 'base64url').toString('utf8');
  const match = /^(\d{1,16}):([A-Za-z0-9_-]{1,200})$/.exec(decoded);
  if (match === null) throw new KeelError('invalid-argument', 'The cursor is not one this server returned; start from the first page (no cursor).');
  return { createdAt: Number(match[1]), sessionId: match[2] as string };
}
