import { execFile } from 'node:child_process';
import { findSystemTool } from './executables.ts';

/**
 * RLIMIT_DATA counts writable private memory, and Node reserves some before running anything: about 48 MiB on
 * Node 20, about 560 MiB on Node 24 (V8's code range). So a Node job's data limit is that measured start-up amount,
 * plus memoryMb, plus this headroom for the young generation, compiled code and thread stacks: the V8 heap limit
 * (`--max-old-space-size`, exactly memoryMb) is then met first for objects, and the data limit catches what lives
 * outside that heap (Buffers, ArrayBuffers). Measured on Node 20: a 64 MiB heap under a 64 MiB data limit
 * crashes with SIGSEGV instead of a heap error; with this headroom it ends with V8's own out-of-memory report.
 */
export const nodeRuntimeHeadroomMb = 128;

const startupDataCache = new Map<string, Promise<number>>();

/**
 * The writable memory (VmData) a Node binary holds right after starting, in MiB, measured once per binary. Linux
 * only, like prlimit; where /proc cannot tell, the start-up amount counts as zero and only the headroom remains.
 */
export function nodeStartupDataMb(nodePath: string): Promise<number> {
  let cached = startupDataCache.get(nodePath);
  if (cached === undefined) {
    cached = new Promise<number>((resolve) => {
      const script = "const m = /^VmData:\\s+(\\d+) kB/m.exec(require('fs').readFileSync('/proc/self/status', 'utf8')); process.stdout.write(m ? m[1] : '0')";
      execFile(nodePath, ['-e', script], { env: {}, timeout: 10_000 }, (error, stdout) => {
        const kilobytes = error === null ? Number(stdout) : 0;
        resolve(Number.isFinite(kilobytes) ? Math.ceil(kilobytes / 1024) : 0);
      });
    });
    startupDataCache.set(nodePath, cached);
  }
  return cached;
}

export interface KernelLimits {
  readonly cpuTimeMs?: number | undefined;
  /** RLIMIT_DATA: writable private memory of each process, in MiB. */
  readonly dataMb?: number | undefined;
}

/** `prlimit` from util-linux, looked up once. */
export function findPrlimit(): string | undefined {
  return findSystemTool('prlimit');
}

/** Whole seconds, rounded up: RLIMIT_CPU counts seconds, and rounding down would stop a job before its limit. */
export function cpuSeconds(cpuTimeMs: number): number {
  return Math.max(1, Math.ceil(cpuTimeMs / 1000));
}

/**
 * Arguments that make `prlimit` set the limits and then exec the command, so the limits hold for it and for every
 * process it starts (each on its own: RLIMIT_CPU and RLIMIT_DATA are per process). The CPU hard limit is one second
 * above the soft one so that the kernel sends SIGXCPU (which says why) before SIGKILL (which says nothing).
 */
export function prlimitArguments(limits: KernelLimits): string[] {
  const args: string[] = [];
  if (limits.cpuTimeMs !== undefined) {
    const seconds = cpuSeconds(limits.cpuTimeMs);
    args.push(`--cpu=${seconds}:${seconds + 1}`);
  }
  if (limits.dataMb !== undefined) {
    const bytes = Math.round(limits.dataMb * 1024 * 1024);
    args.push(`--data=${bytes}:${bytes}`);
  }
  return args;
}

/** 128 + SIGXCPU: how a shell or bubblewrap reports a command that the CPU-time limit ended. */
export const cpuLimitExitCode = 128 + 24;
