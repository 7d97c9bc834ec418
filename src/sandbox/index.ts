export { assertRunnable, defaultOutputBytes, unenforceableLimits } from './sandbox.ts';
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
export { createWorkerRunner } from './worker-runner.ts';
export { createProcessRunner } from './process-runner.ts';
export type { ProcessRunnerOptions } from './process-runner.ts';
export { createBubblewrapRunner } from './bubblewrap-runner.ts';
export type { BubblewrapRunnerOptions } from './bubblewrap-runner.ts';
export { createRunners, selectRunner } from './select-runner.ts';
export type { RunnerPreference } from './select-runner.ts';
