import { KeelError } from '../errors/index.ts';
import { bubblewrapInstallHint, createBubblewrapRunner } from './bubblewrap-runner.ts';
import { createInProcessRunner } from './in-process-runner.ts';
import { createProcessRunner } from './process-runner.ts';
import { assertRunnable, unenforceableLimits } from './sandbox.ts';
import type { Containment, RunnerName, SandboxJobKind, SandboxLimits, SandboxRunner } from './sandbox.ts';
import { createWorkerRunner } from './worker-runner.ts';

/** `strongest` means: a runner that contains untrusted code, or a `sandbox-unavailable` error that says what is missing. */
export type RunnerPreference = RunnerName | 'strongest';

/**
 * What a runner must keep from a job for that job to be untrusted code: the host's files, network, processes
 * (signals, tracing, inspection), environment and memory, and the ability to start programs outside the sandbox.
 */
export const untrustedCodeContainment: readonly Containment[] = ['file-system', 'network', 'child-processes', 'signals', 'environment', 'host-memory'];

const containmentNames: Readonly<Record<Containment, string>> = {
  'file-system': 'the host file system',
  network: 'the network (the host loopback included)',
  'child-processes': 'starting host programs',
  signals: 'signals to and inspection of the host and other processes',
  environment: 'the host environment',
  'host-memory': "the host's memory (reading it, or ending the host by exhausting its own)",
  cpu: 'CPU time',
  memory: 'memory',
};

/** How to get each runner where it is missing, for the `sandbox-unavailable` message. */
const howToGet: Readonly<Record<RunnerName, string>> = {
  'in-process': 'it is always available',
  worker: 'it needs node:worker_threads',
  process: 'it needs Node 20 or newer, whose permission model it uses',
  bubblewrap: bubblewrapInstallHint,
};

export interface SelectOptions {
  /**
   * The code is untrusted: only a runner that contains everything in `untrustedCodeContainment` will do, whatever
   * `preference` says. Implied by `strongest`.
   */
  readonly untrusted?: boolean;
}

/** Every runner, strongest first. Creating them starts nothing; `available()` checks lazily. */
export function createRunners(): SandboxRunner[] {
  return [createBubblewrapRunner(), createProcessRunner(), createWorkerRunner(), createInProcessRunner()];
}

/** What of `untrustedCodeContainment` the runner does not contain. */
export function missingContainment(runner: SandboxRunner): Containment[] {
  return untrustedCodeContainment.filter((containment) => !runner.contains.has(containment));
}

/**
 * The runner for a kind of job. A named runner must be available and able to hold the limits, or this fails
 * loudly. For untrusted code (`strongest`, or `untrusted: true`) only a runner that contains the host's files,
 * network, processes, environment and memory qualifies; the worker and in-process runners never do, and neither
 * does the process runner on Node versions whose permission model has no network rule. Untrusted code gets such a
 * sandbox or a `sandbox-unavailable` error naming what each runner lacks here: never a weaker runner silently.
 */
export async function selectRunner(
  preference: RunnerPreference,
  runners: readonly SandboxRunner[],
  kind: SandboxJobKind,
  limits: SandboxLimits,
  options: SelectOptions = {},
): Promise<SandboxRunner> {
  const untrusted = preference === 'strongest' || options.untrusted === true;
  if (preference !== 'strongest') return selectNamed(preference, runners, kind, limits, untrusted);
  const candidates = runners
    .filter((runner) => runner.jobKinds.has(kind) && unenforceableLimits(runner, limits).length === 0)
    .sort((left, right) => right.isolation - left.isolation);
  const reasons: string[] = [];
  for (const runner of candidates) {
    const missing = missingContainment(runner);
    if (missing.length > 0) {
      reasons.push(`${runner.name} does not contain ${missing.map((each) => containmentNames[each]).join(', ')}`);
      continue;
    }
    if (await runner.available()) return runner;
    reasons.push(`${runner.name} is unavailable: ${await unavailableReason(runner)}`);
  }
  throw new KeelError(
    'sandbox-unavailable',
    candidates.length === 0
      ? `No sandbox runner can run ${kind} jobs with the limits ${Object.keys(limits).join(', ')}.`
      : `No runner here can contain untrusted ${kind} code. ${reasons.join('; ')}.`,
    { details: { kind, reasons } },
  );
}

async function selectNamed(preference: RunnerName, runners: readonly SandboxRunner[], kind: SandboxJobKind, limits: SandboxLimits, untrusted: boolean): Promise<SandboxRunner> {
  const runner = runners.find((candidate) => candidate.name === preference);
  if (runner === undefined) throw new KeelError('invalid-config', `No ${preference} runner was given; the runners are ${runners.map((each) => each.name).join(', ')}.`);
  assertRunnable(runner, kind, limits);
  const missing = missingContainment(runner);
  if (untrusted && missing.length > 0) {
    throw new KeelError(
      'sandbox-unavailable',
      `The ${preference} runner cannot run untrusted code: it does not contain ${missing.map((each) => containmentNames[each]).join(', ')}. Use the bubblewrap runner (${bubblewrapInstallHint}).`,
      { details: { runner: preference, missing } },
    );
  }
  if (!(await runner.available())) {
    throw new KeelError('sandbox-unavailable', `The ${preference} sandbox runner is not available on this machine: ${await unavailableReason(runner)}.`, {
      details: { runner: preference },
    });
  }
  return runner;
}

async function unavailableReason(runner: SandboxRunner): Promise<string> {
  const diagnosed = 'unavailableReason' in runner && typeof runner.unavailableReason === 'function' ? ((await runner.unavailableReason()) as string | undefined) : undefined;
  return diagnosed === undefined ? howToGet[runner.name] : `${diagnosed}; ${howToGet[runner.name]}`;
}
