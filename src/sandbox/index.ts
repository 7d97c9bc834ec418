export { assertRunnable, defaultMemoryMb, defaultOutputBytes, unenforceableLimits, withDefaultLimits } from './sandbox.ts';
export type { DiagnosedRunner } from './sandbox.ts';
export type {
  Containment,
  RunnerName,
  SandboxJob,
  SandboxJobKind,
  SandboxLimitName,
  SandboxLimits,
  SandboxResult,
  SandboxRunner,
} from './sandbox.ts';
export { createInProcessRunner } from './in-process-runner.ts';
export type { InProcessRunnerOptions } from './in-process-runner.ts';
export { createWorkerRunner } from './worker-runner.ts';
export type { WorkerRunnerOptions } from './worker-runner.ts';
export { createProcessRunner } from './process-runner.ts';
export type { ProcessRunnerOptions } from './process-runner.ts';
export { createBubblewrapRunner, defaultMaxProcesses } from './bubblewrap-runner.ts';
export type { BubblewrapRunnerOptions } from './bubblewrap-runner.ts';
export { createRunners, missingContainment, selectRunner, untrustedCodeContainment } from './select-runner.ts';
export type { RunnerPreference, SelectOptions } from './select-runner.ts';
export { ConcurrencyLimiter, configureSandboxConcurrency, sandboxConcurrency } from './concurrency.ts';
export { seccompProgram, deniedSyscalls } from './seccomp-filter.ts';
export { sweepWriteFolder } from './write-folder-guard.ts';
export type { SweepReport } from './write-folder-guard.ts';
