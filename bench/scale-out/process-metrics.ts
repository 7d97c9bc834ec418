// What each process of the scale-out benchmark reports about itself: peak resident memory and the event loop's
// lag (p99, max), sampled from the moment it is ready until it reports.
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface ProcessMetrics {
  readonly role: string;
  readonly pid: number;
  readonly peakRssMB: number;
  readonly eventLoopLagP99Ms: number;
  readonly eventLoopLagMaxMs: number;
  /** Sessions this process finished (ran to their end). */
  readonly sessions: number;
}

/** monitorEventLoopDelay's resolution: a sample includes the whole interval, so it is subtracted to give the lag. */
const resolutionMs = 10;

export function startProcessMetrics(role: string): { stop(sessions: number): ProcessMetrics } {
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 20);
  sampler.unref();
  const delay = monitorEventLoopDelay({ resolution: resolutionMs });
  delay.enable();
  const lag = (nanoseconds: number) => Math.max(0, nanoseconds / 1e6 - resolutionMs);
  return {
    stop(sessions) {
      delay.disable();
      clearInterval(sampler);
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      return { role, pid: process.pid, peakRssMB: peakRss / 2 ** 20, eventLoopLagP99Ms: lag(delay.percentile(99)), eventLoopLagMaxMs: lag(delay.max), sessions };
    },
  };
}

/** The one line a child process prints for the parent to read. */
export function printMetrics(metrics: ProcessMetrics): void {
  process.stdout.write(`METRICS ${JSON.stringify(metrics)}\n`);
}
