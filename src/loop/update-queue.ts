import { KeelError } from '../errors/index.ts';

/**
 * Updates kept for a run nobody has started iterating yet. Callers that never iterate (they pass `onUpdate`, or
 * only await `result`: the HTTP server, workers) would otherwise keep every update of a long session until it ends.
 */
export const unclaimedUpdateLimit = 128;

/**
 * A single-consumer queue exposed as an async iterator; the producer never waits for the consumer. Updates are
 * buffered for a consumer that has started iterating, and for one that has not yet, up to `unclaimedUpdateLimit`;
 * past that limit, or once the consumer has stopped, nothing more is kept.
 */
export class UpdateQueue<T> implements AsyncIterable<T> {
  private readonly buffer: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | null = null;
  private closed = false;
  private failure: unknown = undefined;
  private iterated = false;
  /** No consumer will read what is pushed from now on: it never claimed the run in time, or it stopped. */
  private discarding = false;
  private readonly unclaimedLimit: number;

  constructor(options: { readonly unclaimedLimit?: number } = {}) {
    this.unclaimedLimit = options.unclaimedLimit ?? unclaimedUpdateLimit;
  }

  /** Updates held for the consumer right now. */
  get buffered(): number {
    return this.buffer.length;
  }

  push(item: T): void {
    if (this.closed || this.discarding) return;
    const waiting = this.waiting;
    if (waiting !== null) {
      this.waiting = null;
      waiting({ value: item, done: false });
      return;
    }
    if (!this.iterated && this.buffer.length >= this.unclaimedLimit) {
      this.discarding = true;
      this.buffer.length = 0;
      return;
    }
    this.buffer.push(item);
  }

  close(failure?: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.failure = failure;
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.iterated) throw new Error('A session run can be iterated only once.');
    if (this.discarding) {
      throw new KeelError('invalid-argument', `This run's live updates were not kept: it was not iterated before ${this.unclaimedLimit} of them were produced. Iterate a run right after starting it, pass onUpdate, or read the session's journal.`);
    }
    this.iterated = true;
    return {
      next: (): Promise<IteratorResult<T>> => {
        const item = this.buffer.shift();
        if (item !== undefined) return Promise.resolve({ value: item, done: false });
        if (this.closed) return this.failure === undefined ? Promise.resolve({ value: undefined, done: true }) : Promise.reject(this.failure);
        return new Promise((resolve) => {
          this.waiting = resolve;
        });
      },
      return: (): Promise<IteratorResult<T>> => {
        // The consumer left the loop: what the session produces from now on has no reader.
        this.discarding = true;
        this.buffer.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
