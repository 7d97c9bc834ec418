import { leaseLostError } from '../loop/session-writer.ts';
import { currentEventVersion } from '../spec/events.ts';
import type { EventBody, SessionEvent } from '../spec/events.ts';
import type { Clock } from '../spec/clock.ts';
import type { Journal } from '../spec/journal.ts';
import type { PlanState } from './plan-state.ts';

export interface PlanWriterOptions {
  readonly sessionId: string;
  readonly journal: Journal;
  readonly clock: Clock;
  readonly state: PlanState;
  readonly onEvent?: (event: SessionEvent) => void;
  readonly leaseLost?: AbortSignal;
}

/**
 * The planner session's single writer: stamps envelopes, appends with the journal's optimistic concurrency, folds
 * each event into the state, and serializes the appends of steps running in parallel. After a failed append it writes
 * nothing more: its view of the journal may be stale.
 */
export class PlanWriter {
  private tail: Promise<unknown> = Promise.resolve();
  private failure: unknown = undefined;
  private readonly options: PlanWriterOptions;

  constructor(options: PlanWriterOptions) {
    this.options = options;
  }

  get state(): PlanState {
    return this.options.state;
  }

  get sessionId(): string {
    return this.options.sessionId;
  }

  append(bodies: readonly EventBody[]): Promise<readonly SessionEvent[]> {
    const run = this.tail.then(() => this.write(bodies));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async write(bodies: readonly EventBody[]): Promise<readonly SessionEvent[]> {
    if (this.failure !== undefined) throw this.failure;
    const { sessionId, journal, clock, state, leaseLost } = this.options;
    if (leaseLost?.aborted === true) {
      this.failure = leaseLostError(sessionId, leaseLost);
      throw this.failure;
    }
    const at = clock.now();
    const events = bodies.map((body, index) => ({ ...body, v: currentEventVersion, sessionId, seq: state.lastSeq + index + 1, at }) as SessionEvent);
    try {
      await journal.append(sessionId, events, state.lastSeq);
    } catch (error) {
      this.failure = error;
      throw error;
    }
    for (const event of events) {
      state.apply(event);
      this.options.onEvent?.(event);
    }
    return events;
  }
}
