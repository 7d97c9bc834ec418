import { KeelError } from '../errors/index.ts';

export type { Containment, RunnerName, SandboxJob, SandboxJobKind, SandboxLimitName, SandboxLimits, SandboxResult, SandboxRunner } from '../spec/sandbox.ts';
import type { SandboxJobKind, SandboxLimitName, SandboxLimits, SandboxRunner } from '../spec/sandbox.ts';

export const defaultOutputBytes = 1024 * 1024;

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
