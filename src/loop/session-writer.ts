import { KeelError } from '../errors/index.ts';
import { currentEventVersion } from '../spec/events.ts';
import type { EventBody, SessionEvent } from '../spec/events.ts';
import type { Journal } from '../spec/journal.ts';
import type { Clock } from '../spec/clock.ts';
import { serializeEvent } from '../store/journal-serialize.ts';
import { applyEvents } from './session-state.ts';
import type { SessionState } from './session-state.ts';

export interface SessionWriterOptions {
  readonly journal: Journal;
  readonly clock: Clock;
  readonly state: SessionState;
  readonly onWritten: (event: SessionEvent) => void;
  /**
   * Each event once, as soon as the state has it: a held event when it is held, any other once written. What judges
   * the session's course (its anomaly signals) looks here, so a signal a held event crosses is found before the append
   * that carries the event, even when that append ends the session.
   */
  readonly onFolded?: (event: SessionEvent) => void;
  /** Aborts when this process no longer holds the session's lease: from then on nothing more is appended. */
  readonly leaseLost?: AbortSignal;
}

/** The error of an append refused because another process took the session over. */
export function leaseLostError(sessionId: string, signal: AbortSignal): KeelError {
  const reason: unknown = signal.reason;
  if (reason instanceof KeelError && reason.code === 'session-busy') return reason;
  return new KeelError('session-busy', `This process lost the lease of session ${sessionId} to another writer and stopped before its next write; resume the session from the process that holds it.`, { cause: reason });
}

/**
 * Events no effect outside the process waits for: each is followed, before any tool runs, any approval is awaited,
 * any child session starts, the next model call and the session's end, by an event that is none of these (a tool
 * decision, the next turn's model request, the session's end). Losing them in a crash loses no acknowledged step:
 * resume calls the model again. A turn's model request is not held: it is in the journal (and reported) before the
 * model is called, so a running call can be seen, and a paid response is journaled before the next call is made.
 */
const heldTypes: ReadonlySet<SessionEvent['type']> = new Set(['model-response', 'tool-request']);
// A tool's outcome is held only when its caller asks (see `append`): whether it can be depends on its record, not its type.

/**
 * The session's single writer: stamps envelopes, appends with optimistic concurrency, folds each
 * written event into the state, and serialises appends from parallel tool calls.
 *
 * An append made only of events no outside effect waits for (`heldTypes`: the model's response and the tool calls it
 * asks for; and a tool's outcome its idempotency record has, when the caller says so) is held in memory instead of
 * committed alone: it is folded at once, and written (then reported through
 * `onWritten`) in the same journal append as the next event that is not held: the tool decisions before a tool
 * runs, the next turn's start, the session's end, a guard trip. What must be durable before an effect still is, since the event that
 * precedes the effect carries the held ones with it, and the journal and the reported events never show a step
 * that a crash could take back. No timer: the number and content of appends depend only on the session's steps. A
 * journal that replays a durable execution (`appendOrRecall`) gets every append as made.
 */
export class SessionWriter {
  private tail: Promise<unknown> = Promise.resolve();
  private current: SessionState;
  /** The seq of the last event the journal has stored; held events come after it. */
  private storedSeq: number;
  private held: SessionEvent[] = [];
  /** Set by the first failed append: the writer's view of the journal may be stale, so it writes nothing more. */
  private failure: unknown = undefined;

  private readonly options: SessionWriterOptions;
  constructor(options: SessionWriterOptions) {
    this.options = options;
    this.current = options.state;
    this.storedSeq = options.state.lastSeq;
  }

  get state(): SessionState {
    return this.current;
  }

  /** The state these events would give, without writing them: lets a step be planned and written in one append. */
  preview(bodies: readonly EventBody[]): SessionState {
    return applyEvents(this.current, this.stamp(bodies));
  }

  /**
   * Appends the events after those already appended. `hold` asks for them to be held like the model's response: only
   * for a tool's outcome its idempotency record already has, which a re-run after a crash gets back without running
   * the tool, so losing the event in a crash loses no effect.
   */
  append(bodies: readonly EventBody[], options: { readonly hold?: boolean } = {}): Promise<SessionState> {
    const run = this.tail.then(() => this.write(bodies, options.hold === true));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Writes the held events now, if any (after the appends already made), for a caller stopping without a final append; rejects when that write fails. */
  flush(): Promise<void> {
    const run = this.tail.then(() => this.writeHeld());
    this.tail = run.catch(() => undefined);
    return run;
  }

  private stamp(bodies: readonly EventBody[]): SessionEvent[] {
    const at = this.options.clock.now();
    const base = this.current.lastSeq;
    return bodies.map((body, index) => ({ ...body, v: currentEventVersion, sessionId: this.current.sessionId, seq: base + index + 1, at }) as SessionEvent);
  }

  private checkWritable(): void {
    if (this.failure !== undefined) throw this.failure;
    const leaseLost = this.options.leaseLost;
    if (leaseLost?.aborted === true) {
      this.failure = leaseLostError(this.current.sessionId, leaseLost);
      throw this.failure;
    }
  }

  private holds(events: readonly SessionEvent[], requested: boolean): boolean {
    return events.length > 0 && this.options.journal.appendOrRecall === undefined && (requested || events.every((event) => heldTypes.has(event.type)));
  }

  private async write(bodies: readonly EventBody[], hold: boolean): Promise<SessionState> {
    this.checkWritable();
    const stamped = this.stamp(bodies);
    if (this.holds(stamped, hold)) {
      // Refused now, as the journal would refuse it at the next append: a held event is folded and reported at once,
      // so one the journal cannot store must never be held (it would also poison the append that carries it).
      for (const event of stamped) serializeEvent(event.sessionId, event);
      this.held.push(...stamped);
      // Folded now, so the loop plans with them; reported (onWritten) only once the journal has them.
      this.current = applyEvents(this.current, stamped);
      this.folded(stamped);
      return this.current;
    }
    const carried = this.held;
    const events = await this.store([...carried, ...stamped]);
    // A journal replaying a durable execution may answer with the events an earlier attempt stored: those are folded.
    const written = events === undefined ? stamped : events.slice(carried.length);
    this.current = applyEvents(this.current, written);
    this.folded(written);
    this.report(carried);
    this.report(written);
    return this.current;
  }

  private async writeHeld(): Promise<void> {
    if (this.held.length === 0) return;
    this.checkWritable();
    const carried = this.held;
    await this.store(carried);
    this.report(carried);
  }

  /** Appends the batch after the stored seq; the recalled events when the journal answers with an earlier attempt's. */
  private async store(batch: readonly SessionEvent[]): Promise<readonly SessionEvent[] | undefined> {
    const { journal } = this.options;
    const sessionId = this.current.sessionId;
    let recalled: readonly SessionEvent[] | undefined;
    try {
      if (journal.appendOrRecall === undefined) await journal.append(sessionId, batch, this.storedSeq);
      else recalled = await journal.appendOrRecall(sessionId, batch, this.storedSeq);
    } catch (error) {
      // An event the journal refuses before storing anything (one JSON cannot represent) leaves the journal as the
      // writer knows it: the loop may still end the session with that error, held events included.
      if (!(error instanceof KeelError && error.code === 'invalid-argument')) this.failure = error;
      throw error;
    }
    this.storedSeq += batch.length;
    this.held = [];
    return recalled;
  }

  private folded(events: readonly SessionEvent[]): void {
    const onFolded = this.options.onFolded;
    if (onFolded !== undefined) for (const event of events) onFolded(event);
  }

  private report(events: readonly SessionEvent[]): void {
    for (const event of events) this.options.onWritten(event);
  }
}
