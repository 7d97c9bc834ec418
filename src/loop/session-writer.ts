import { currentEventVersion } from '../spec/events.ts';
import type { EventBody, SessionEvent } from '../spec/events.ts';
import type { Journal } from '../spec/journal.ts';
import type { Clock } from '../spec/clock.ts';
import { applyEvent } from './session-state.ts';
import type { SessionState } from './session-state.ts';

/**
 * The session's single writer: stamps envelopes, appends with optimistic concurrency, folds each
 * written event into the state, and serialises appends from parallel tool calls.
 */
export class SessionWriter {
  private tail: Promise<unknown> = Promise.resolve();
  private current: SessionState;
  /** Set by the first failed append: the writer's view of the journal may be stale, so it writes nothing more. */
  private failure: unknown = undefined;

  constructor(
    private readonly journal: Journal,
    private readonly clock: Clock,
    state: SessionState,
    private readonly onWritten: (event: SessionEvent) => void,
  ) {
    this.current = state;
  }

  get state(): SessionState {
    return this.current;
  }

  /** The state these events would give, without writing them: lets a step be planned and written in one append. */
  preview(bodies: readonly EventBody[]): SessionState {
    let state = this.current;
    bodies.forEach((body, index) => {
      state = applyEvent(state, { ...body, v: currentEventVersion, sessionId: state.sessionId, seq: this.current.lastSeq + index + 1, at: this.clock.now() } as SessionEvent);
    });
    return state;
  }

  append(bodies: readonly EventBody[]): Promise<SessionState> {
    const run = this.tail.then(() => this.write(bodies));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async write(bodies: readonly EventBody[]): Promise<SessionState> {
    if (this.failure !== undefined) throw this.failure;
    const at = this.clock.now();
    const base = this.current.lastSeq;
    const events = bodies.map((body, index) => ({ ...body, v: currentEventVersion, sessionId: this.current.sessionId, seq: base + index + 1, at }) as SessionEvent);
    try {
      await this.journal.append(this.current.sessionId, events, base);
    } catch (error) {
      this.failure = error;
      throw error;
    }
    let state = this.current;
    for (const event of events) state = applyEvent(state, event);
    this.current = state;
    for (const event of events) this.onWritten(event);
    return state;
  }
}
