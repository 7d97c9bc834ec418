import { KeelError } from '../errors/index.ts';
import { currentEventVersion } from '../spec/events.ts';
import type { EventBody, SessionEvent } from '../spec/events.ts';
import type { Journal } from '../spec/journal.ts';
import type { Clock } from '../spec/clock.ts';
import { applyEvents } from './session-state.ts';
import type { SessionState } from './session-state.ts';

export interface SessionWriterOptions {
  readonly journal: Journal;
  readonly clock: Clock;
  readonly state: SessionState;
  readonly onWritten: (event: SessionEvent) => void;
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
 * The session's single writer: stamps envelopes, appends with optimistic concurrency, folds each
 * written event into the state, and serialises appends from parallel tool calls.
 */
export class SessionWriter {
  private tail: Promise<unknown> = Promise.resolve();
  private current: SessionState;
  /** Set by the first failed append: the writer's view of the journal may be stale, so it writes nothing more. */
  private failure: unknown = undefined;

  private readonly options: SessionWriterOptions;
  constructor(options: SessionWriterOptions) {
    this.options = options;
    this.current = options.state;
  }

  get state(): SessionState {
    return this.current;
  }

  /** The state these events would give, without writing them: lets a step be planned and written in one append. */
  preview(bodies: readonly EventBody[]): SessionState {
    return applyEvents(this.current, this.stamp(bodies));
  }

  append(bodies: readonly EventBody[]): Promise<SessionState> {
    const run = this.tail.then(() => this.write(bodies));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private stamp(bodies: readonly EventBody[]): SessionEvent[] {
    const at = this.options.clock.now();
    const base = this.current.lastSeq;
    return bodies.map((body, index) => ({ ...body, v: currentEventVersion, sessionId: this.current.sessionId, seq: base + index + 1, at }) as SessionEvent);
  }

  private async write(bodies: readonly EventBody[]): Promise<SessionState> {
    if (this.failure !== undefined) throw this.failure;
    const leaseLost = this.options.leaseLost;
    if (leaseLost?.aborted === true) {
      this.failure = leaseLostError(this.current.sessionId, leaseLost);
      throw this.failure;
    }
    const stamped = this.stamp(bodies);
    const { journal } = this.options;
    let events: readonly SessionEvent[] = stamped;
    try {
      // A journal replaying a durable execution may answer with the events an earlier attempt stored: those are folded.
      if (journal.appendOrRecall === undefined) await journal.append(this.current.sessionId, stamped, this.current.lastSeq);
      else events = await journal.appendOrRecall(this.current.sessionId, stamped, this.current.lastSeq);
    } catch (error) {
      this.failure = error;
      throw error;
    }
    this.current = applyEvents(this.current, events);
    for (const event of events) this.options.onWritten(event);
    return this.current;
  }
}
