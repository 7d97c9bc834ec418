/** A clock that moves only when told to, for guard and retention tests; `sleep` resolves when time is advanced past it. */
export class FakeClock {
  private current: number;
  private monotonicNow = 0;
  private sleepers: { until: number; resolve: () => void }[] = [];
  /** Every sleep requested, in milliseconds, so tests can assert on backoff. */
  readonly sleeps: number[] = [];

  constructor(start: number = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  monotonic(): number {
    return this.monotonicNow;
  }

  advance(milliseconds: number): void {
    this.current += milliseconds;
    this.monotonicNow += milliseconds;
    const due = this.sleepers.filter((sleeper) => sleeper.until <= this.current);
    this.sleepers = this.sleepers.filter((sleeper) => sleeper.until > this.current);
    for (const sleeper of due) sleeper.resolve();
  }

  sleep(milliseconds: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(milliseconds);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const sleeper = { until: this.current + milliseconds, resolve };
      this.sleepers.push(sleeper);
      signal?.addEventListener('abort', () => {
        this.sleepers = this.sleepers.filter((entry) => entry !== sleeper);
        reject(signal.reason);
      }, { once: true });
    });
  }
}
