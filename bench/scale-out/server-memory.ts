// Peak resident memory of a server process the benchmark starts but does not run Node in (restate-server), read
// from /proc, so that a configuration's memory includes its engine and not only Keel's processes.
import { readFileSync } from 'node:fs';

export interface ServerMemory {
  readonly role: string;
  /** Null where /proc cannot be read (not Linux). */
  readonly peakRssMB: number | null;
}

function residentMB(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? null : Number(match[1]) / 1024;
  } catch {
    return null;
  }
}

/** Samples `pid` every 100 ms until `stop()`, which returns the highest RSS seen. */
export function watchServerMemory(role: string, pid: number): { stop(): ServerMemory } {
  let peak: number | null = residentMB(pid);
  const sample = (): void => {
    const now = residentMB(pid);
    if (now !== null) peak = Math.max(peak ?? 0, now);
  };
  const sampler = setInterval(sample, 100);
  sampler.unref();
  return {
    stop() {
      sample();
      clearInterval(sampler);
      return { role, peakRssMB: peak === null ? null : Math.round(peak) };
    },
  };
}
