import { KeelError } from '../errors/index.ts';
import type { SessionEvent } from '../spec/events.ts';
import type { Journal, ListSessionsOptions, SessionSummary } from '../spec/journal.ts';

export interface RecallingJournalOptions {
  /** Keel's journal, shared by every session. */
  readonly journal: Journal;
  /** The session this invocation runs. Other sessions (its children) pass straight through. */
  readonly sessionId: string;
  /** The session's last sequence number when the invocation first ran (recorded by Restate, so every attempt agrees). */
  readonly horizon: number;
}

/**
 * The journal as one attempt of a Restate invocation sees its session. Restate replays a crashed invocation from its
 * beginning; the loop then takes the same steps again, and the appends of the steps the crashed attempt completed find
 * their events already stored. Those are recalled (returned as stored) instead of written twice, after checking that
 * each stored event is the one this replay would write (same type, turn and call): anything else means another
 * process wrote to the session, and the attempt stops with `journal-conflict`.
 *
 * Reads end at what this attempt has reached, so a resume inside a replay folds the state the crashed attempt had at
 * that point, not the journal's later tail.
 */
export class RecallingJournal implements Journal {
  private readonly options: RecallingJournalOptions;
  /** The last sequence number this attempt has written or recalled. */
  private reached: number;
  /** The session's last sequence number when this attempt began: appends below it are replays. */
  private readonly storedTail: number;

  private constructor(options: RecallingJournalOptions, storedTail: number) {
    this.options = options;
    this.reached = options.horizon;
    this.storedTail = storedTail;
  }

  static async open(options: RecallingJournalOptions): Promise<RecallingJournal> {
    return new RecallingJournal(options, await options.journal.lastSeq(options.sessionId));
  }

  /** True for an event this attempt recalled rather than wrote: live telemetry saw it in the attempt that wrote it. */
  wasRecalled(event: SessionEvent): boolean {
    return event.sessionId === this.options.sessionId && event.seq <= this.storedTail && event.seq > this.options.horizon;
  }

  async append(sessionId: string, events: readonly SessionEvent[], expectedSeq: number): Promise<number> {
    if (sessionId !== this.options.sessionId) return this.options.journal.append(sessionId, events, expectedSeq);
    const written = await this.appendOrRecall(sessionId, events, expectedSeq);
    return written.at(-1)?.seq ?? expectedSeq;
  }

  async appendOrRecall(sessionId: string, events: readonly SessionEvent[], expectedSeq: number): Promise<readonly SessionEvent[]> {
    const { journal } = this.options;
    if (sessionId !== this.options.sessionId) {
      await journal.append(sessionId, events, expectedSeq);
      return events;
    }
    if (expectedSeq !== this.reached) {
      throw new KeelError('journal-conflict', `Session ${sessionId}: an append expected sequence ${expectedSeq}, but this Restate attempt has reached ${this.reached}.`, { retryable: false });
    }
    if (expectedSeq >= this.storedTail) {
      await journal.append(sessionId, events, expectedSeq);
      this.reached = expectedSeq + events.length;
      return events;
    }
    const stored = await this.readStored(expectedSeq, events.length);
    checkSameSteps(sessionId, stored, events);
    this.reached = expectedSeq + stored.length;
    return stored;
  }

  async *read(sessionId: string, fromSeq?: number): AsyncIterable<SessionEvent> {
    const own = sessionId === this.options.sessionId;
    for await (const event of this.options.journal.read(sessionId, fromSeq)) {
      if (own && event.seq > this.reached) return;
      yield event;
    }
  }

  async lastSeq(sessionId: string): Promise<number> {
    return sessionId === this.options.sessionId ? this.reached : this.options.journal.lastSeq(sessionId);
  }

  listSessions(options?: ListSessionsOptions): Promise<readonly SessionSummary[]> {
    return this.options.journal.listSessions(options);
  }

  /** The shared journal outlives every attempt: closing it is its owner's business. */
  async close(): Promise<void> {}

  private async readStored(afterSeq: number, count: number): Promise<SessionEvent[]> {
    const stored: SessionEvent[] = [];
    for await (const event of this.options.journal.read(this.options.sessionId, afterSeq + 1)) {
      if (event.seq <= afterSeq) continue;
      stored.push(event);
      if (stored.length === count) break;
    }
    return stored;
  }
}

/** A stored event matches a replayed one when it records the same step: same type, turn and call. */
function stepOf(event: SessionEvent): string {
  const fields = event as { readonly turn?: unknown; readonly callId?: unknown };
  return `${event.type} turn ${String(fields.turn ?? '-')} call ${String(fields.callId ?? '-')}`;
}

function checkSameSteps(sessionId: string, stored: readonly SessionEvent[], replayed: readonly SessionEvent[]): void {
  const mismatch = replayed.findIndex((event, index) => stored[index] === undefined || stepOf(stored[index]) !== stepOf(event));
  if (mismatch === -1 && stored.length === replayed.length) return;
  const index = mismatch === -1 ? stored.length : mismatch;
  const found = stored[index];
  const expected = replayed[index];
  throw new KeelError(
    'journal-conflict',
    `Session ${sessionId} holds ${found === undefined ? 'nothing' : stepOf(found)} at sequence ${expected?.seq ?? '?'} where the Restate replay of its invocation writes ${expected === undefined ? 'nothing' : stepOf(expected)}: another process wrote to this session while Restate ran it. Sessions that run on Restate must not be resumed or decided elsewhere.`,
    // A retry would replay into the same journal: the invocation fails instead, naming the conflict.
    { details: { sessionId, seq: expected?.seq ?? null }, retryable: false },
  );
}
