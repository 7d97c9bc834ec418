import { existsSync, readFileSync } from 'node:fs';

// The fallback when `prlimit` is missing: the parent reads the child's CPU time and resident memory from /proc and
// kills it past a limit. The parent measures, because a job stuck in a synchronous loop cannot report anything
// itself. It is coarser than the kernel's limits: it sees the process every `intervalMs`, so a fast allocation can
// overshoot by what it allocates in one interval.

const intervalMs = 25;
/** USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every Linux architecture Node runs on. */
const clockTicksPerSecond = 100;

export function procfsAvailable(): boolean {
  return existsSync('/proc/self/stat');
}

export interface WatchdogLimits {
  readonly cpuTimeMs?: number | undefined;
  readonly memoryMb?: number | undefined;
}

export type WatchdogVerdict = 'cpu' | 'memory';

/** Starts polling `pid`; calls `exceeded` once with the limit that was passed. Returns the function that stops it. */
export function watchProcess(pid: number, limits: WatchdogLimits, exceeded: (verdict: WatchdogVerdict) => void): () => void {
  const timer = setInterval(() => {
    const verdict = check(pid, limits);
    if (verdict === undefined) return;
    clearInterval(timer);
    exceeded(verdict);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

function check(pid: number, limits: WatchdogLimits): WatchdogVerdict | undefined {
  try {
    if (limits.cpuTimeMs !== undefined && cpuTimeMsOf(pid) > limits.cpuTimeMs) return 'cpu';
    if (limits.memoryMb !== undefined && residentMbOf(pid) > limits.memoryMb) return 'memory';
  } catch {
    // The process exited between two polls; its exit is handled elsewhere.
  }
  return undefined;
}

function cpuTimeMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces, so fields are counted after its closing one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const userTicks = Number(fields[11]);
  const systemTicks = Number(fields[12]);
  return ((userTicks + systemTicks) * 1000) / clockTicksPerSecond;
}

function residentMbOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return match === null ? 0 : Number(match[1]) / 1024;
}
