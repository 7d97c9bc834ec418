import { findExecutable } from './executables.ts';

/**
 * Node's own runtime (code, thread stacks, young generation, ICU) needs writable memory before the job allocates
 * anything: measured on Node 20, it fails to start under a 32 MiB data limit and starts under 64 MiB. The data
 * limit of a Node job is its memoryMb plus this headroom, so that the V8 heap limit (`--max-old-space-size`,
 * exactly memoryMb) is met first for objects and the data limit catches what lives outside that heap (Buffers,
 * ArrayBuffers).
 */
export const nodeRuntimeHeadroomMb = 128;

export interface KernelLimits {
  readonly cpuTimeMs?: number | undefined;
  /** RLIMIT_DATA: writable private memory of each process, in MiB. */
  readonly dataMb?: number | undefined;
}

let prlimitPath: string | null | undefined;

/** `prlimit` from util-linux, looked up once. */
export function findPrlimit(): string | undefined {
  if (prlimitPath === undefined) prlimitPath = findExecutable('prlimit') ?? null;
  return prlimitPath ?? undefined;
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
