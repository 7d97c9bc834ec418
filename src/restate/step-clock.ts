import type { Clock } from '../spec/clock.ts';

/**
 * The loop's clock under durable execution. Its wall time moves only with values Restate recorded (the invocation's
 * start, the end of each durable step, an approval's arrival), so a replay after a crash reads the same times at the
 * same points and takes the same guard decisions (deadlines) as the attempt that crashed. Durations (`monotonic`) are
 * real: they only fill event fields, and a replayed event is the stored one.
 */
export class StepClock implements Clock {
  private current: number;

  constructor(startedAt: number) {
    this.current = startedAt;
  }

  now(): number {
    return this.current;
  }

  /** Moves the clock to a recorded time; never backwards. */
  advance(recordedAt: number): void {
    if (recordedAt > this.current) this.current = recordedAt;
  }

  monotonic(): number {
    return performance.now();
  }

  sleep(milliseconds: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(signal.reason);
        return;
      }
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, milliseconds));
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
