import { KeelError } from '../errors/index.ts';
import type { SessionEvent } from '../spec/events.ts';
import type { Journal, SessionSummary } from '../spec/journal.ts';
import { checkAppendBatch, checkExpectedSeq, checkListOptions, newestFirst, summaryAfterAppend } from './journal-rules.ts';

interface StoredSession {
  readonly events: SessionEvent[];
  summary: SessionSummary;
}

/**
 * A Journal in process memory, for tests. It behaves like the SQLite journal, including conflicts,
 * version checks and what survives a write: events are copied through JSON, as a database would,
 * so a test cannot pass here with a value (a Date, an undefined in an array) that SQLite would change.
 * Stored events are frozen, so a caller cannot change history through an event it read.
 */
export function createMemoryJournal(): Journal {
  const sessions = new Map<string, StoredSession>();
  let closed = false;

  function ensureOpen(): void {
    if (closed) throw new KeelError('storage-failure', 'The in-memory journal is closed.', { retryable: false });
  }

  return {
    async append(sessionId, events, expectedSeq) {
      ensureOpen();
      checkAppendBatch(sessionId, events, expectedSeq);
      const session = sessions.get(sessionId);
      checkExpectedSeq(sessionId, expectedSeq, session?.summary.lastSeq ?? 0);
      if (events.length === 0) return expectedSeq;
      const copies = events.map((event) => deepFreeze(JSON.parse(JSON.stringify(event)) as SessionEvent));
      const summary = Object.freeze(summaryAfterAppend(session?.summary, sessionId, copies));
      if (session === undefined) sessions.set(sessionId, { events: copies, summary });
      else {
        session.events.push(...copies);
        session.summary = summary;
      }
      return summary.lastSeq;
    },
    async *read(sessionId, fromSeq = 1) {
      ensureOpen();
      // Callers must not rely on seeing events appended while they iterate; SQLite's paged reads may or may not.
      const snapshot = (sessions.get(sessionId)?.events ?? []).filter((event) => event.seq >= fromSeq);
      for (const event of snapshot) yield event;
    },
    async lastSeq(sessionId) {
      ensureOpen();
      return sessions.get(sessionId)?.summary.lastSeq ?? 0;
    },
    async listSessions(options = {}) {
      ensureOpen();
      checkListOptions(options);
      const { status, limit } = options;
      const matching = [...sessions.values()]
        .map((session) => session.summary)
        .filter((summary) => status === undefined || (status === 'open' ? summary.status === null : summary.status === status))
        .sort(newestFirst);
      return limit === undefined ? matching : matching.slice(0, limit);
    },
    async close() {
      closed = true;
    },
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const entry of Object.values(value)) deepFreeze(entry);
    Object.freeze(value);
  }
  return value;
}
