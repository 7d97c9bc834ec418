// Where a benchmark process's memory is: the V8 heap (used and committed, by space), `external` (buffers and what
// native addons report to V8), and on Linux what the kernel counts (/proc/self/smaps_rollup: anonymous memory,
// which holds the V8 heap, malloc arenas and SQLite's page caches, against file-backed pages such as the node binary
// and the native addons). RSS minus the committed V8 heap minus file-backed pages is native anonymous memory.
import { readFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';

/** One memory breakdown, in MiB. */
export interface MemoryBreakdown {
  readonly rssMB: number;
  readonly heapUsedMB: number;
  readonly heapCommittedMB: number;
  readonly externalMB: number;
  readonly arrayBuffersMB: number;
  /** Committed bytes of each V8 heap space (new, old, code, large object...). */
  readonly heapSpacesMB: Readonly<Record<string, number>>;
  /** From smaps_rollup; absent off Linux. */
  readonly anonymousMB?: number;
  readonly fileBackedMB?: number;
  /** Anonymous memory the V8 heap does not account for: malloc arenas, SQLite caches, native buffers, thread stacks. */
  readonly nativeAnonymousMB?: number;
}

const mebibytes = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

/** The kB fields of /proc/self/smaps_rollup, or undefined where it does not exist. */
export function smapsRollup(): Readonly<Record<string, number>> | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/smaps_rollup', 'utf8');
  } catch {
    return undefined;
  }
  const fields: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^(\w+):\s+(\d+) kB$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) fields[match[1]] = Number(match[2]);
  }
  return fields;
}

export function memoryBreakdown(): MemoryBreakdown {
  const usage = process.memoryUsage();
  const spaces = getHeapSpaceStatistics();
  const heapSpacesMB: Record<string, number> = {};
  let committed = 0;
  for (const space of spaces) {
    heapSpacesMB[space.space_name] = mebibytes(space.physical_space_size);
    committed += space.physical_space_size;
  }
  const smaps = smapsRollup();
  const base = {
    rssMB: mebibytes(usage.rss),
    heapUsedMB: mebibytes(usage.heapUsed),
    heapCommittedMB: mebibytes(committed),
    externalMB: mebibytes(usage.external),
    arrayBuffersMB: mebibytes(usage.arrayBuffers),
    heapSpacesMB,
  };
  if (smaps?.Rss === undefined || smaps.Anonymous === undefined) return base;
  const anonymous = smaps.Anonymous * 1024;
  return {
    ...base,
    anonymousMB: mebibytes(anonymous),
    fileBackedMB: mebibytes((smaps.Rss - smaps.Anonymous) * 1024),
    nativeAnonymousMB: mebibytes(anonymous - committed),
  };
}

/**
 * Samples the breakdown every `intervalMs` and keeps the one taken at the highest RSS. Reading smaps_rollup walks
 * the process's mappings (about a millisecond for a large process), so the interval is coarser than the RSS sampler's.
 */
export function startPeakBreakdown(intervalMs = 250): { readonly stop: () => MemoryBreakdown | undefined } {
  let peak: MemoryBreakdown | undefined;
  const sample = (): void => {
    const current = memoryBreakdown();
    if (peak === undefined || current.rssMB > peak.rssMB) peak = current;
  };
  const timer = setInterval(sample, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}
