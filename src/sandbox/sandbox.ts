import { KeelError } from '../errors/index.ts';

export type { Containment, RunnerName, SandboxJob, SandboxJobKind, SandboxLimitName, SandboxLimits, SandboxResult, SandboxRunner } from '../spec/sandbox.ts';
import type { SandboxJobKind, SandboxLimitName, SandboxLimits, SandboxRunner } from '../spec/sandbox.ts';

export const defaultOutputBytes = 1024 * 1024;
/** memoryMb when the caller gives none, on every runner that can hold a memory limit. */
export const defaultMemoryMb = 512;

/**
 * The limits a job runs under: the caller's, and for every limit the runner enforces but the caller left out, a
 * default (memory 512 MiB, CPU time equal to the wall-clock limit, output 1 MiB), so no job runs unbounded.
 */
export function withDefaultLimits(runner: SandboxRunner, limits: SandboxLimits): SandboxLimits {
  const enforces = (name: SandboxLimitName): boolean => runner.enforces.has(name);
  return {
    ...limits,
    ...(limits.memoryMb === undefined && enforces('memoryMb') ? { memoryMb: defaultMemoryMb } : {}),
    ...(limits.cpuTimeMs === undefined && enforces('cpuTimeMs') ? { cpuTimeMs: limits.timeoutMs } : {}),
    outputBytes: limits.outputBytes ?? defaultOutputBytes,
  };
}

/** A runner that can say why it is unavailable (what is missing, and how to get it), for `sandbox-unavailable`. */
export interface DiagnosedRunner extends SandboxRunner {
  unavailableReason(): Promise<string | undefined>;
}

/** Throws `invalid-config` when a limit is asked of a runner that cannot hold it, or the job kind is not its own. */
export function assertRunnable(runner: SandboxRunner, kind: SandboxJobKind, limits: SandboxLimits): void {
  if (!runner.jobKinds.has(kind)) {
    throw new KeelError('invalid-config', `The ${runner.name} runner cannot run ${kind} jobs; it runs ${[...runner.jobKinds].join(' and ')} jobs.`);
  }
  const unsupported = unenforceableLimits(runner, limits);
  if (unsupported.length > 0) {
    throw new KeelError(
      'invalid-config',
      `The ${runner.name} runner cannot enforce ${unsupported.join(', ')}; it enforces ${[...runner.enforces].join(', ')}. Use a stronger runner or drop the limit.`,
      { details: { runner: runner.name, unsupported } },
    );
  }
  if (!(limits.timeoutMs > 0)) throw new KeelError('invalid-config', `timeoutMs must be positive, got ${limits.timeoutMs}.`);
  for (const name of ['memoryMb', 'cpuTimeMs', 'outputBytes'] as const) {
    const value = limits[name];
    if (value !== undefined && !(value > 0)) throw new KeelError('invalid-config', `${name} must be positive, got ${value}.`);
  }
}

export function unenforceableLimits(runner: SandboxRunner, limits: SandboxLimits): SandboxLimitName[] {
  return (Object.keys(limits) as SandboxLimitName[]).filter((name) => limits[name] !== undefined && !runner.enforces.has(name));
}
