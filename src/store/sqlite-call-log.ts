import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Statement } from 'better-sqlite3';
import { KeelError } from '../errors/index.ts';
import type { Clock } from '../spec/clock.ts';
import type { CallLogChannel, CallLogStore, StoredCallLogEntry } from './memory-call-log.ts';
import { migrate, openSqliteDatabase } from './sqlite-database.ts';
import type { Migration, SqliteDatabase } from './sqlite-database.ts';
import { toStorageFailure } from './storage-failure.ts';

export type SqliteCallLogOptions = (
  /**
   * Its own database file, the way the access-controlled audit log should live: created with mode 0600
   * (its folder 0700 when created), and narrowed to 0600 when it already exists with wider permissions.
   * SQLite gives its -wal and -shm files the permissions of the database file.
   */
  | { readonly path: string; readonly busyTimeoutMs?: number }
  /** A database shared with other stores (the journal's, for the sampled log); the call log does not close it. */
  | { readonly database: SqliteDatabase }
) & {
  /** Defaults to `audit`. Both channels can share one database; each store sees only its own. */
  readonly channel?: CallLogChannel;
  /** Stamps `purged_at`; defaults to the system clock. */
  readonly clock?: Pick<Clock, 'now'>;
};

export const callLogMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'call_log',
    sql: `
      CREATE TABLE call_log (
        channel TEXT NOT NULL,
        session_id TEXT NOT NULL,
        turn INTEGER NOT NULL,
        response_id TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        at INTEGER NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        cost_usd REAL,
        redacted INTEGER NOT NULL,
        prompt TEXT,
        response TEXT,
        purged_at INTEGER,
        PRIMARY KEY (channel, session_id, turn, response_id)
      );
      CREATE INDEX call_log_retention ON call_log (channel, at) WHERE purged_at IS NULL;
    `,
  },
];

/** File mode of a call log that has its own database file: owner read and write, nobody else. */
export const callLogFileMode = 0o600;

interface Row {
  session_id: string;
  turn: number;
  response_id: string;
  request_hash: string;
  at: number;
  provider: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cost_usd: number | null;
  redacted: number;
  prompt: string | null;
  response: string | null;
  purged_at: number | null;
}

export function createSqliteCallLog(options: SqliteCallLogOptions): CallLogStore {
  const channel = options.channel ?? 'audit';
  const clock = options.clock ?? { now: () => Date.now() };
  const ownsDatabase = !('database' in options);
  const database = 'database' in options ? options.database : openRestricted(options.path, options.busyTimeoutMs);
  const path = database.name;
  try {
    migrate(database, 'call-log', callLogMigrations);
    // Erased texts are overwritten on disk rather than left in free pages.
    database.pragma('secure_delete = ON');
  } catch (error) {
    if (ownsDatabase) database.close();
    throw error;
  }
  const insert = database.prepare(
    `INSERT OR IGNORE INTO call_log (channel, session_id, turn, response_id, request_hash, at, provider, model,
       input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, redacted, prompt, response)
     VALUES (@channel, @sessionId, @turn, @responseId, @requestHash, @at, @provider, @model,
       @inputTokens, @outputTokens, @cacheReadTokens, @cacheWriteTokens, @costUsd, @redacted, @prompt, @response)`,
  );
  const select = database.prepare<[string, string], Row>('SELECT * FROM call_log WHERE channel = ? AND session_id = ? ORDER BY turn, at, response_id');
  const purge = database.prepare<[number, string, number]>(
    'UPDATE call_log SET prompt = NULL, response = NULL, purged_at = ? WHERE channel = ? AND at < ? AND purged_at IS NULL AND (prompt IS NOT NULL OR response IS NOT NULL)',
  );

  let closed = false;
  function guarded<T>(action: string, work: () => T): T {
    if (closed) throw new KeelError('storage-failure', `The ${channel} call log at ${path} is closed.`, { retryable: false, details: { path } });
    try {
      return work();
    } catch (error) {
      throw toStorageFailure(error, { path, action });
    }
  }

  return {
    channel,
    async record(entry) {
      return guarded(`recording the model call of session ${entry.sessionId}, turn ${entry.turn}`, () => {
        const result = insert.run({
          channel,
          sessionId: entry.sessionId,
          turn: entry.turn,
          responseId: entry.responseId,
          requestHash: entry.requestHash,
          at: entry.at,
          provider: entry.provider,
          model: entry.model,
          inputTokens: entry.usage.inputTokens,
          outputTokens: entry.usage.outputTokens,
          cacheReadTokens: entry.usage.cacheReadTokens,
          cacheWriteTokens: entry.usage.cacheWriteTokens,
          costUsd: entry.costUsd,
          redacted: entry.redacted ? 1 : 0,
          prompt: entry.prompt,
          response: entry.response,
        });
        return result.changes === 1;
      });
    },
    async read(sessionId) {
      return guarded(`reading the call log of session ${sessionId}`, () => select.all(channel, sessionId).map(toEntry));
    },
    async purgeOlderThan(cutoff) {
      const purged = guarded('purging call log texts past retention', () => purge.run(clock.now(), channel, cutoff).changes);
      if (purged > 0) checkpoint(database);
      return { purged };
    },
    async close() {
      if (closed) return;
      closed = true;
      if (ownsDatabase) database.close();
    },
  };
}

/**
 * Replaces a stored blob's content, for the retention policy's erasure of old request blobs (see
 * `purgeRequestBlobs` in runtime/call-log.ts): the row stays, under its hash, holding the marker text.
 * Works on the `blobs` table of `createSqliteBlobStore`. Returns whether the blob existed.
 */
export interface BlobEraser {
  erase(hash: string, replacement: string): Promise<boolean>;
}

export function createSqliteBlobEraser(database: SqliteDatabase): BlobEraser {
  const path = database.name;
  let update: Statement<[string, number, string]> | undefined;
  return {
    async erase(hash, replacement) {
      try {
        // Prepared on first use: the blobs table may be created after this eraser.
        update ??= database.prepare<[string, number, string]>('UPDATE blobs SET content = ?, size = ? WHERE hash = ?');
        database.pragma('secure_delete = ON');
        const changed = update.run(replacement, Buffer.byteLength(replacement, 'utf8'), hash).changes === 1;
        if (changed) checkpoint(database);
        return changed;
      } catch (error) {
        throw toStorageFailure(error, { path, action: `erasing blob ${hash}` });
      }
    },
  };
}

function toEntry(row: Row): StoredCallLogEntry {
  return {
    sessionId: row.session_id,
    turn: row.turn,
    requestHash: row.request_hash,
    responseId: row.response_id,
    at: row.at,
    provider: row.provider,
    model: row.model,
    usage: { inputTokens: row.input_tokens, outputTokens: row.output_tokens, cacheReadTokens: row.cache_read_tokens, cacheWriteTokens: row.cache_write_tokens },
    costUsd: row.cost_usd,
    prompt: row.prompt,
    response: row.response,
    redacted: row.redacted === 1,
    purgedAt: row.purged_at,
  };
}

function openRestricted(path: string, busyTimeoutMs: number | undefined): SqliteDatabase {
  if (path !== ':memory:' && path !== '') {
    try {
      const folder = dirname(path);
      if (!existsSync(folder)) mkdirSync(folder, { recursive: true, mode: 0o700 });
      if (!existsSync(path)) closeSync(openSync(path, 'a', callLogFileMode));
      chmodSync(path, callLogFileMode);
    } catch (error) {
      throw toStorageFailure(error, { path, action: 'creating the call log file with mode 0600' });
    }
  }
  return openSqliteDatabase({ path, ...(busyTimeoutMs === undefined ? {} : { busyTimeoutMs }) });
}

/** Moves erased content out of the write-ahead log too; a busy reader only delays it to the next checkpoint. */
function checkpoint(database: SqliteDatabase): void {
  if (database.memory) return;
  try {
    database.pragma('wal_checkpoint(TRUNCATE)');
  } catch {
    // Best effort: SQLite checkpoints on its own later.
  }
}
