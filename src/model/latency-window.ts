/**
 * The latest first-token latencies of one route, for its p95: a fixed ring, so memory and the cost of a reading stay
 * bounded however many calls the route serves.
 */
export class LatencyWindow {
  private readonly samples: number[] = [];
  private next = 0;
  private readonly size: number;

  constructor(size = 200) {
    this.size = size;
  }

  record(milliseconds: number): void {
    if (!Number.isFinite(milliseconds) || milliseconds < 0) return;
    if (this.samples.length < this.size) this.samples.push(milliseconds);
    else this.samples[this.next] = milliseconds;
    this.next = (this.next + 1) % this.size;
  }

  get count(): number {
    return this.samples.length;
  }

  /** The nearest-rank percentile (0 < p ≤ 100), or undefined before any sample. */
  percentile(p: number): number | undefined {
    if (this.samples.length === 0) return undefined;
    const sorted = [...this.samples].sort((left, right) => left - right);
    const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
    return sorted[rank - 1];
  }
}
