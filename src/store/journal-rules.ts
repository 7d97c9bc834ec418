import { KeelError } from '../errors/index.ts';
import { supportedEventVersions } from '../spec/events.ts';
import type { SessionEvent } from '../spec/events.ts';
import type { ListSessionsOptions, SessionSummary } from '../spec/journal.ts';

// The rules every Journal backend applies, in one place so that memory and SQLite agree exactly.

/**
 * Checks what can be checked without the store: the batch is numbered `expectedSeq + 1, + 2, …`,
 * belongs to the session and carries a readable version. Done before taking any lock.
 * A misnumbered batch is a `journal-conflict` that retrying the same batch cannot fix, hence not retryable.
 */
export function checkAppendBatch(sessionId: string, events: readonly SessionEvent[], expectedSeq: number): void {
  if (!(Number.isSafeInteger(expectedSeq) && expectedSeq >= 0)) {
    throw new KeelError('invalid-argument', `expectedSeq must be a non-negative integer, got ${expectedSeq} (session ${sessionId}).`);
  }
  events.forEach((event, index) => {
    if (event.sessionId !== sessionId) {
      throw new KeelError(
        'journal-conflict',
        `Event ${index + 1} of the batch belongs to session ${String(event.sessionId)}, not ${sessionId}; nothing was appended.`,
        { retryable: false, details: { sessionId, reason: 'session-id-mismatch', expected: sessionId, actual: event.sessionId, index } },
      );
    }
    const seq = expectedSeq + index + 1;
    if (event.seq !== seq) {
      throw new KeelError(
        'journal-conflict',
        `Event ${index + 1} of the batch for session ${sessionId} has seq ${String(event.seq)}, but appending after ${expectedSeq} requires ${seq}; nothing was appended.`,
        { retryable: false, details: { sessionId, reason: 'event-seq-mismatch', expected: seq, actual: event.seq, index } },
      );
    }
    if (!supportedEventVersions.includes(event.v)) {
      throw new KeelError(
        'invalid-argument',
        `Event ${seq} of session ${sessionId} has version ${String(event.v)}; this Keel writes and reads versions ${supportedEventVersions.join(', ')}.`,
        { details: { sessionId, seq, version: event.v } },
      );
    }
  });
}

/** The optimistic concurrency check, run inside the store's write lock. Retryable: re-read the journal and try again. */
export function checkExpectedSeq(sessionId: string, expectedSeq: number, lastSeq: number): void {
  if (lastSeq === expectedSeq) return;
  throw new KeelError(
    'journal-conflict',
    `Session ${sessionId} is at seq ${lastSeq}, but the writer expected ${expectedSeq}: another writer appended first. Re-read the journal before writing again.`,
    { details: { sessionId, reason: 'stale-expected-seq', expected: expectedSeq, actual: lastSeq } },
  );
}

/**
 * The session's summary after a non-empty, checked batch. A journal whose first event is not
 * `session-start` is still stored (validateJournal reports it); its agent stays '' until one arrives.
 */
export function summaryAfterAppend(previous: SessionSummary | undefined, sessionId: string, events: readonly SessionEvent[]): SessionSummary {
  const first = events[0];
  const last = events.at(-1);
  if (first === undefined || last === undefined) throw new KeelError('internal', 'summaryAfterAppend needs at least one event.');
  let agent = previous?.agent ?? '';
  let startedAt = previous?.startedAt ?? first.at;
  let status = previous?.status ?? null;
  for (const event of events) {
    if (event.type === 'session-start') {
      agent = event.agent.name;
      startedAt = event.at;
    } else if (event.type === 'session-end') {
      status = event.status;
    }
  }
  return { sessionId, agent, startedAt, updatedAt: last.at, lastSeq: last.seq, status };
}

const listableStatuses: readonly string[] = ['open', 'completed', 'failed', 'cancelled'];

export function checkListOptions(options: ListSessionsOptions): void {
  if (options.limit !== undefined && !(Number.isSafeInteger(options.limit) && options.limit >= 0)) {
    throw new KeelError('invalid-argument', `listSessions: limit must be a non-negative integer, got ${options.limit}.`);
  }
  if (options.status !== undefined && !listableStatuses.includes(options.status)) {
    throw new KeelError('invalid-argument', `listSessions: status must be one of ${listableStatuses.join(', ')}, got ${String(options.status)}.`);
  }
}

/** Newest first: by start time, then by id, which is time-ordered too, so that ties still have one order. */
export function newestFirst(left: SessionSummary, right: SessionSummary): number {
  if (left.startedAt !== right.startedAt) return right.startedAt - left.startedAt;
  return left.sessionId < right.sessionId ? 1 : left.sessionId > right.sessionId ? -1 : 0;
}
