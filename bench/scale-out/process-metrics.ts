// What each process of the scale-out benchmark reports about itself: peak resident memory (with where it was at that
// moment: V8's heap, memory outside it, array buffers) and the event loop's lag (p99, max), sampled from the moment it
// is ready until it reports.
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** process.memoryUsage() in MB at the sample with the highest RSS. */
export interface MemoryAtPeak {
  readonly rssMB: number;
  readonly heapUsedMB: number;
  readonly heapTotalMB: number;
  /** Memory V8 knows is held outside its heap (buffers, WebAssembly memory); includes `arrayBuffersMB`. */
  readonly externalMB: number;
  readonly arrayBuffersMB: number;
}

export interface ProcessMetrics {
  readonly role: string;
  readonly pid: number;
  readonly peakRssMB: number;
  readonly memoryAtPeak: MemoryAtPeak;
  readonly eventLoopLagP99Ms: number;
  readonly eventLoopLagMaxMs: number;
  /** V8 heap in use after a full collection when the process reports (its sessions over); only with --expose-gc. */
  readonly heapAfterCollectionMB?: number;
  /** Sessions this process finished (ran to their end). */
  readonly sessions: number;
}

/** monitorEventLoopDelay's resolution: a sample includes the whole interval, so it is subtracted to give the lag. */
const resolutionMs = 10;

const megabytes = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

function memoryNow(): MemoryAtPeak {
  const usage = process.memoryUsage();
  return { rssMB: megabytes(usage.rss), heapUsedMB: megabytes(usage.heapUsed), heapTotalMB: megabytes(usage.heapTotal), externalMB: megabytes(usage.external), arrayBuffersMB: megabytes(usage.arrayBuffers) };
}

export function startProcessMetrics(role: string): { stop(sessions: number): ProcessMetrics } {
  let peak = memoryNow();
  const sample = (): void => {
    // process.memoryUsage() walks the heap's spaces; the cheap RSS read decides whether the breakdown is worth taking.
    if (process.memoryUsage.rss() / 2 ** 20 > peak.rssMB) peak = memoryNow();
  };
  const sampler = setInterval(sample, 20);
  sampler.unref();
  // SCALE_OUT_MEMORY_TRACE_MS=2000 prints the breakdown to stderr that often (kept with SCALE_OUT_LOG_DIR).
  const traceMs = Number(process.env.SCALE_OUT_MEMORY_TRACE_MS ?? 0);
  const tracer = traceMs > 0 ? setInterval(() => process.stderr.write(`MEMORY ${new Date().toISOString()} ${JSON.stringify(memoryNow())}\n`), traceMs) : undefined;
  tracer?.unref();
  const delay = monitorEventLoopDelay({ resolution: resolutionMs });
  delay.enable();
  const lag = (nanoseconds: number) => Math.max(0, nanoseconds / 1e6 - resolutionMs);
  return {
    stop(sessions) {
      delay.disable();
      clearInterval(sampler);
      clearInterval(tracer);
      sample();
      // What the finished sessions left behind, with SCALE_OUT_NODE_FLAGS=--expose-gc.
      const collect = (globalThis as { gc?: () => void }).gc;
      collect?.();
      const after = collect === undefined ? {} : { heapAfterCollectionMB: megabytes(process.memoryUsage().heapUsed) };
      return { role, pid: process.pid, peakRssMB: peak.rssMB, memoryAtPeak: peak, eventLoopLagP99Ms: lag(delay.percentile(99)), eventLoopLagMaxMs: lag(delay.max), ...after, sessions };
    },
  };
}

/** The one line a child process prints for the parent to read. */
export function printMetrics(metrics: ProcessMetrics): void {
  process.stdout.write(`METRICS ${JSON.stringify(metrics)}\n`);
}
