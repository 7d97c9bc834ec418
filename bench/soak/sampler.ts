// Process health, sampled every few seconds while the soak runs.
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { collectGarbage } from '../../test/suites/fault-kit.ts';

export interface SoakSample {
  readonly elapsedSeconds: number;
  readonly rssMegabytes: number;
  /** After a full garbage collection, so it is the live set and not whatever the collector has not reached yet. */
  readonly heapUsedMegabytes: number;
  readonly externalMegabytes: number;
  readonly openFileDescriptors: number;
  /** Handles and requests libuv keeps alive (sockets, timers, file requests), by count. */
  readonly activeResources: number;
  readonly eventLoopDelayP99Ms: number;
  readonly eventLoopDelayMeanMs: number;
  readonly eventLoopDelayMaxMs: number;
  /** CPU time of this process over the window, as a share of one core: over 100 means it is CPU-bound. */
  readonly cpuPercent: number;
  /** The machine's 1-minute load average: other processes' load shows up in the delay figures. */
  readonly loadAverage: number;
  readonly sessionsCompleted: number;
  readonly sessionsFailedUnexpectedly: number;
  readonly sessionsInFlight: number;
  readonly faultsInjected: number;
  readonly journalMegabytes: number;
}

/** What the workload counted since the previous sample. */
export interface WindowCounts {
  readonly completed: number;
  readonly failedUnexpectedly: number;
  readonly inFlight: number;
  readonly faultsInjected: number;
}

export { collectGarbage };

/** Open descriptors of this process; NaN where /proc is missing. */
export function openFileDescriptors(): number {
  try {
    // readdirSync holds one descriptor of its own on the directory while it reads.
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return Number.NaN;
  }
}

/** Open descriptors by what they point at (`socket`, `pipe`, `anon_inode:[eventpoll]`, or the file's path), for finding what leaked. */
export function describeFileDescriptors(): Map<string, number> {
  const kinds = new Map<string, number>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc/self/fd');
  } catch {
    return kinds;
  }
  for (const entry of entries) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${entry}`).replace(/:\[\d+\]$/, '');
    } catch {
      continue;
    }
    kinds.set(target, (kinds.get(target) ?? 0) + 1);
  }
  return kinds;
}

function fileMegabytes(paths: readonly string[]): number {
  let bytes = 0;
  for (const path of paths) {
    try {
      bytes += statSync(path).size;
    } catch {
      // The WAL file comes and goes with checkpoints.
    }
  }
  return bytes / 1024 / 1024;
}

const megabytes = (bytes: number): number => bytes / 1024 / 1024;
const milliseconds = (nanoseconds: number): number => nanoseconds / 1e6;

export interface SamplerOptions {
  readonly everySeconds: number;
  readonly journalFiles: readonly string[];
  /** Returns the counts of the window just ended and starts a new one. */
  readonly takeWindow: () => WindowCounts;
  readonly onSample: (sample: SoakSample) => void;
}

export interface Sampler {
  stop(): void;
}

const resolutionMs = 10;

export function startSampler(options: SamplerOptions): Sampler {
  const started = performance.now();
  const delay = monitorEventLoopDelay({ resolution: resolutionMs });
  delay.enable();
  let cpuBefore = process.cpuUsage();
  let wallBefore = performance.now();
  const sample = (): void => {
    const cpu = process.cpuUsage(cpuBefore);
    const wall = performance.now() - wallBefore;
    // Read the window's delays before the forced collection, whose pause must not count against the workload.
    const p99 = Math.max(0, milliseconds(delay.percentile(99)) - resolutionMs);
    const mean = Math.max(0, milliseconds(delay.mean) - resolutionMs);
    const max = Math.max(0, milliseconds(delay.max) - resolutionMs);
    const counts = options.takeWindow();
    collectGarbage();
    const memory = process.memoryUsage();
    options.onSample({
      elapsedSeconds: (performance.now() - started) / 1000,
      rssMegabytes: megabytes(memory.rss),
      heapUsedMegabytes: megabytes(memory.heapUsed),
      externalMegabytes: megabytes(memory.external),
      openFileDescriptors: openFileDescriptors(),
      activeResources: process.getActiveResourcesInfo().length,
      eventLoopDelayP99Ms: p99,
      eventLoopDelayMeanMs: mean,
      eventLoopDelayMaxMs: max,
      cpuPercent: ((cpu.user + cpu.system) / 1000 / wall) * 100,
      loadAverage: loadavg()[0] ?? Number.NaN,
      sessionsCompleted: counts.completed,
      sessionsFailedUnexpectedly: counts.failedUnexpectedly,
      sessionsInFlight: counts.inFlight,
      faultsInjected: counts.faultsInjected,
      journalMegabytes: fileMegabytes(options.journalFiles),
    });
    delay.reset();
    // The forced collection above belongs to the sampler, not to the next window.
    cpuBefore = process.cpuUsage();
    wallBefore = performance.now();
  };
  const timer = setInterval(sample, options.everySeconds * 1000);
  return {
    stop() {
      clearInterval(timer);
      delay.disable();
    },
  };
}
