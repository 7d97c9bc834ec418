import type { SessionEvent, SessionStatus } from './events.ts';

export interface SessionSummary {
  readonly sessionId: string;
  readonly agent: string;
  readonly startedAt: number;
  readonly updatedAt: number;
  readonly lastSeq: number;
  /** Null while the session has no `session-end` event: running, or crashed and resumable. */
  readonly status: SessionStatus | null;
}

export interface ListSessionsOptions {
  readonly limit?: number;
  readonly status?: SessionStatus | 'open';
}

/**
 * Append-only, per-session event log. `append` is optimistic concurrency: it succeeds only when the
 * session's last sequence number is `expectedSeq`, and the events carry `expectedSeq + 1, + 2, …`.
 * A mismatch fails with `journal-conflict`. It returns the new last sequence number.
 */
export interface Journal {
  append(sessionId: string, events: readonly SessionEvent[], expectedSeq: number): Promise<number>;
  /**
   * Optional, for durable engines that replay a session after a crash (the Restate endpoint): appends like `append`,
   * but when events at these sequence numbers were already stored by an earlier attempt of the same execution, returns
   * those stored events instead of failing. The session's writer folds what it returns, so a replay rebuilds exactly
   * the state the journal holds.
   */
  appendOrRecall?(sessionId: string, events: readonly SessionEvent[], expectedSeq: number): Promise<readonly SessionEvent[]>;
  read(sessionId: string, fromSeq?: number): AsyncIterable<SessionEvent>;
  /** The last sequence number, 0 for a session with no events. */
  lastSeq(sessionId: string): Promise<number>;
  listSessions(options?: ListSessionsOptions): Promise<readonly SessionSummary[]>;
  close(): Promise<void>;
}

/** Content-addressed storage for large payloads: assembled prompts, long tool results. */
export interface BlobStore {
  /** Stores the content and returns its SHA-256 hex hash; storing the same content twice is a no-op. */
  put(content: string): Promise<string>;
  get(hash: string): Promise<string | undefined>;
  close(): Promise<void>;
}
