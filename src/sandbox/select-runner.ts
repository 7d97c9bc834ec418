import { KeelError } from '../errors/index.ts';
import { bubblewrapInstallHint, createBubblewrapRunner } from './bubblewrap-runner.ts';
import { createInProcessRunner } from './in-process-runner.ts';
import { createProcessRunner } from './process-runner.ts';
import { assertRunnable, unenforceableLimits } from './sandbox.ts';
import type { RunnerName, SandboxJobKind, SandboxLimits, SandboxRunner } from './sandbox.ts';
import { createWorkerRunner } from './worker-runner.ts';

export type RunnerPreference = RunnerName | 'strongest';

/** How to get each runner where it is missing, for the `sandbox-unavailable` message. */
const howToGet: Readonly<Record<RunnerName, string>> = {
  'in-process': 'it is always available',
  worker: 'it needs node:worker_threads',
  process: 'it needs Node 20 or newer, whose permission model it uses',
  bubblewrap: bubblewrapInstallHint,
};

/** Every runner, strongest first. Creating them starts nothing; `available()` checks lazily. */
export function createRunners(): SandboxRunner[] {
  return [createBubblewrapRunner(), createProcessRunner(), createWorkerRunner(), createInProcessRunner()];
}

/**
 * The runner for a kind of job. A named runner must be available and able to hold the limits, or this fails
 * loudly. `strongest` takes the most isolating available runner that runs the kind and enforces the limits, and
 * never the in-process runner, which isolates nothing: untrusted code gets a sandbox or an error.
 */
export async function selectRunner(
  preference: RunnerPreference,
  runners: readonly SandboxRunner[],
  kind: SandboxJobKind,
  limits: SandboxLimits,
): Promise<SandboxRunner> {
  if (preference !== 'strongest') {
    const runner = runners.find((candidate) => candidate.name === preference);
    if (runner === undefined) throw new KeelError('invalid-config', `No ${preference} runner was given; the runners are ${runners.map((each) => each.name).join(', ')}.`);
    assertRunnable(runner, kind, limits);
    if (!(await runner.available())) {
      throw new KeelError('sandbox-unavailable', `The ${preference} sandbox runner is not available on this machine: ${howToGet[preference]}.`, {
        details: { runner: preference },
      });
    }
    return runner;
  }
  const candidates = runners
    .filter((runner) => runner.isolation > 0 && runner.jobKinds.has(kind) && unenforceableLimits(runner, limits).length === 0)
    .sort((left, right) => right.isolation - left.isolation);
  for (const runner of candidates) {
    if (await runner.available()) return runner;
  }
  const tried = candidates.map((runner) => `${runner.name} (${howToGet[runner.name]})`).join('; ');
  throw new KeelError(
    'sandbox-unavailable',
    candidates.length === 0
      ? `No sandbox runner can run ${kind} jobs with the limits ${Object.keys(limits).join(', ')}.`
      : `No sandbox runner for ${kind} jobs is available here. Tried: ${tried}.`,
    { details: { kind, tried: candidates.map((runner) => runner.name) } },
  );
}
