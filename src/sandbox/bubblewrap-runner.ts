import { spawn } from 'node:child_process';
import { accessSync, constants as fileConstants, realpathSync } from 'node:fs';
import { constants } from 'node:os';
import { KeelError } from '../errors/index.ts';
import { bubblewrapArguments, sandboxWorkFolder, seccompDescriptor } from './bubblewrap-arguments.ts';
import type { BubblewrapLayout } from './bubblewrap-arguments.ts';
import { sandboxConcurrency, withConcurrencyLimit } from './concurrency.ts';
import type { ConcurrencyLimiter } from './concurrency.ts';
import { findExecutable } from './executables.ts';
import { answerBytesFor, encodeNodeJob, settleNodeJob } from './node-job-protocol.ts';
import type { Enforcement } from './node-job-protocol.ts';
import { nodeSandboxArguments, nodeVersionOf, permissionFlag, processProgramPath } from './node-permission.ts';
import { cpuLimitExitCode, cpuSeconds, findPrlimit, nodeRuntimeHeadroomMb, nodeStartupDataMb, prlimitArguments } from './resource-limits.ts';
import type { KernelLimits } from './resource-limits.ts';
import { assertRunnable, defaultOutputBytes, withDefaultLimits } from './sandbox.ts';
import type { DiagnosedRunner, SandboxJob, SandboxLimits, SandboxResult } from './sandbox.ts';
import { abortedError, cpuLimitError, timeoutError } from './sandbox-errors.ts';
import { jobsRunAsSandboxUser, sandboxSpawnIdentity } from './sandbox-user.ts';
import { seccompProgram, seccompSupported } from './seccomp-filter.ts';
import { superviseProcess } from './supervised-process.ts';
import type { SupervisedProcessOutcome } from './supervised-process.ts';
import { prepareWorkFolder, resolveReadPaths, writeJobFiles } from './work-folder.ts';

export const bubblewrapInstallHint =
  'install bubblewrap 0.8 or newer (apt-get install bubblewrap, dnf install bubblewrap, apk add bubblewrap), util-linux (prlimit), and allow unprivileged user namespaces (sysctl user.max_user_namespaces > 0, kernel.unprivileged_userns_clone=1 where it exists)';
/** Where the job program sits inside the sandbox for JavaScript jobs. */
const programInside = '/sandbox/process-program.mjs';
/** RLIMIT_NPROC inside the sandbox when the caller gives none: processes and threads (a Node job uses about a dozen). */
export const defaultMaxProcesses = 128;

export interface BubblewrapRunnerOptions {
  /** The bwrap binary; found on the system by default. */
  readonly bubblewrapPath?: string;
  /** The Node binary for JavaScript jobs; defaults to the one running Keel. */
  readonly nodePath?: string;
  /** RLIMIT_NPROC of the job: processes and threads it may have at once, counted in its own user namespace. */
  readonly maxProcesses?: number;
  /** Jobs of this runner that may run at once; defaults to the process-wide bubblewrap limiter (one per CPU). */
  readonly concurrency?: ConcurrencyLimiter;
}

/**
 * Runs commands, and JavaScript (in `node` under the permission model, as the process runner does), inside
 * bubblewrap: Linux namespaces set up without a privileged helper. This is Keel's runner for untrusted code;
 * docs/sandboxes.md has the table of what each runner contains.
 *
 * Contains: the network (a network namespace of its own: only its own loopback, so even the host's 127.0.0.1 is out
 * of reach), the file system (only /usr and the system library folders read-only, a minimal /etc without shadow or
 * keys, the `readPaths` read-only, the work folder read-write at /work, a private /tmp), signals and other
 * processes (its own pid namespace: it sees none of the host's, and everything it started dies with it), the
 * environment (cleared), privileges (uid 65534 inside; under a root host bwrap itself runs as 65534 outside, so the
 * job holds no root rights on host files, and setuid bits in a persistent write path are cleared after each job;
 * no capabilities, no nested user namespaces), dangerous system calls (a seccomp filter: ptrace, mount, unshare,
 * setns, keyctl, bpf, perf_event_open, userfaultfd, module loading, namespace flags on clone and more), fork bombs
 * (RLIMIT_NPROC in its own user namespace), CPU time and memory (RLIMIT_CPU and RLIMIT_DATA, each per process), the
 * wall clock, and the number of sandboxes at once (a process-wide limiter).
 *
 * Does not contain: a kernel bug reachable through the allowed system calls, disk space in the work folder, and CPU
 * and memory summed over several processes (a cgroup would bound those). For commands, a violation is what the
 * kernel tells the command (no such file, read-only file system, network unreachable) and comes back in its exit
 * code and stderr, as does a failed allocation; Keel raises errors for what it can tell for certain: timeout, CPU
 * limit, abort.
 */
export function createBubblewrapRunner(options: BubblewrapRunnerOptions = {}): DiagnosedRunner {
  const nodePath = options.nodePath ?? process.execPath;
  const maxProcesses = options.maxProcesses ?? defaultMaxProcesses;
  if (!Number.isInteger(maxProcesses) || maxProcesses < 1) throw new KeelError('invalid-config', `maxProcesses must be a whole number of at least 1, got ${maxProcesses}.`);
  let diagnosis: Promise<string | undefined> | undefined;
  const bubblewrapPath = (): string | undefined => options.bubblewrapPath ?? findExecutable('bwrap');
  const problem = (): Promise<string | undefined> => (diagnosis ??= diagnose(bubblewrapPath()));

  const runJob = async (job: SandboxJob, requested: SandboxLimits, signal?: AbortSignal): Promise<SandboxResult> => {
    assertRunnable(runner, job.kind, requested);
    const missing = await problem();
    if (missing !== undefined) throw unavailableError(missing);
    const bwrap = bubblewrapPath() as string;
    const prlimit = findPrlimit() as string;
    const limits = withDefaultLimits(runner, requested);
    const readPaths = resolveReadPaths(limits.readPaths);
    const workFolder = await prepareWorkFolder(limits.writePath, { timeoutMs: limits.timeoutMs, signal });
    try {
      const context: LaunchContext = { workFolder: workFolder.path, readPaths, limits, prlimit, maxProcesses };
      const launch = job.kind === 'command' ? commandLaunch(job, context) : javascriptLaunch(job, nodePath, context, await nodeStartupDataMb(nodePath));
      const identity = sandboxSpawnIdentity();
      const outcome = await superviseProcess({
        command: bwrap,
        args: [...bubblewrapArguments(launch.layout), '--', ...launch.inner],
        // bwrap changes into /work itself; the host folder may not be reachable for the sandbox user from outside.
        cwd: '/',
        env: {},
        descriptorFourData: seccompProgram(),
        ...identity,
        ...(launch.stdin === undefined ? {} : { stdin: launch.stdin }),
        ...(job.kind === 'javascript' ? { answerBytes: answerBytesFor(limits.outputBytes ?? defaultOutputBytes) } : {}),
        timeoutMs: limits.timeoutMs,
        outputBytes: limits.outputBytes ?? defaultOutputBytes,
        ...(signal === undefined ? {} : { signal }),
      });
      if (job.kind === 'javascript') return settleNodeJob('bubblewrap', outcome, limits, describeEnforcement(limits, launch.kernelLimits.dataMb ?? 0), signal);
      return settleCommand(outcome, limits, signal);
    } finally {
      await workFolder.release();
    }
  };

  const runner: DiagnosedRunner = {
    name: 'bubblewrap',
    isolation: 3,
    jobKinds: new Set(['javascript', 'command']),
    contains: new Set(['file-system', 'network', 'child-processes', 'signals', 'environment', 'host-memory', 'cpu', 'memory']),
    enforces: new Set(['timeoutMs', 'memoryMb', 'cpuTimeMs', 'readPaths', 'writePath', 'outputBytes']),
    available: async () => (await problem()) === undefined,
    unavailableReason: problem,
    run: withConcurrencyLimit('bubblewrap', options.concurrency ?? sandboxConcurrency('bubblewrap'), runJob),
  };
  return runner;
}

function unavailableError(problem: string): KeelError {
  return new KeelError('sandbox-unavailable', `The bubblewrap runner cannot run here: ${problem}. To fix it, ${bubblewrapInstallHint}.`, {
    details: { runner: 'bubblewrap', missing: problem },
  });
}

interface LaunchContext {
  readonly workFolder: string;
  readonly readPaths: readonly string[];
  readonly limits: SandboxLimits;
  readonly prlimit: string;
  readonly maxProcesses: number;
}

interface Launch {
  readonly layout: BubblewrapLayout;
  /** prlimit, then the job: the limits are set inside the sandbox, so RLIMIT_NPROC counts in its own user namespace. */
  readonly inner: readonly string[];
  readonly kernelLimits: KernelLimits;
  readonly stdin?: string;
}

function limitedCommand(context: LaunchContext, kernelLimits: KernelLimits, command: readonly string[]): string[] {
  return [context.prlimit, ...prlimitArguments(kernelLimits), `--nproc=${context.maxProcesses}:${context.maxProcesses}`, '--', ...command];
}

function commandLaunch(job: Extract<SandboxJob, { kind: 'command' }>, context: LaunchContext): Launch {
  if (job.argv.length === 0 || job.argv[0] === '') throw new KeelError('invalid-argument', 'A command job needs a program name in argv[0].');
  writeJobFiles(context.workFolder, job.files ?? {});
  const kernelLimits = { cpuTimeMs: context.limits.cpuTimeMs, dataMb: context.limits.memoryMb };
  return {
    layout: { workFolder: context.workFolder, readPaths: context.readPaths },
    inner: limitedCommand(context, kernelLimits, job.argv),
    kernelLimits,
    ...(job.stdin === undefined ? {} : { stdin: job.stdin }),
  };
}

function javascriptLaunch(job: Extract<SandboxJob, { kind: 'javascript' }>, nodePath: string, context: LaunchContext, startupDataMb: number): Launch {
  const version = nodeVersionOf(nodePath);
  if (version === undefined || permissionFlag(version) === undefined) {
    throw new KeelError('sandbox-unavailable', `The bubblewrap runner runs JavaScript with Node 20 or newer, not found at ${nodePath}.`);
  }
  const { limits, readPaths, workFolder } = context;
  const nodeBinary = realpathSync(nodePath);
  const nodeArguments = nodeSandboxArguments(version, { programPath: programInside, readPaths, workFolder: sandboxWorkFolder }, limits.memoryMb);
  const kernelLimits = { cpuTimeMs: limits.cpuTimeMs, dataMb: limits.memoryMb === undefined ? undefined : startupDataMb + limits.memoryMb + nodeRuntimeHeadroomMb };
  return {
    layout: {
      workFolder,
      readPaths,
      // /usr is already there; a Node installed elsewhere (nvm, a tarball) is bound at its own path.
      readOnlyBinds: [{ source: processProgramPath, target: programInside }, ...(nodeBinary.startsWith('/usr/') ? [] : [{ source: nodeBinary, target: nodeBinary }])],
    },
    inner: limitedCommand(context, kernelLimits, [nodeBinary, ...nodeArguments]),
    kernelLimits,
    // The answer pipe is fd 3, which bwrap passes through to the command.
    stdin: encodeNodeJob(job.code, job.input),
  };
}

function describeEnforcement(limits: SandboxLimits, total: number): Enforcement {
  return {
    cpu: `RLIMIT_CPU of ${limits.cpuTimeMs === undefined ? 0 : cpuSeconds(limits.cpuTimeMs)} s set by prlimit`,
    memory: `V8 heap capped by --max-old-space-size=${Math.floor(limits.memoryMb ?? 0)}; all writable memory capped at ${total} MiB by prlimit (RLIMIT_DATA)`,
    cpuHardLimitKills: limits.cpuTimeMs !== undefined,
  };
}

/** A command's exit status is its result, whatever it is, except where it can only mean one of our limits. */
function settleCommand(outcome: SupervisedProcessOutcome, limits: SandboxLimits, signal: AbortSignal | undefined): SandboxResult {
  if (outcome.stoppedBy === 'abort') throw abortedError('bubblewrap', signal?.reason);
  if (outcome.stoppedBy === 'timeout') throw timeoutError('bubblewrap', limits.timeoutMs);
  if (outcome.spawnError !== undefined) {
    throw new KeelError('sandbox-unavailable', `The bubblewrap sandbox could not start: ${outcome.spawnError.message}; ${bubblewrapInstallHint}.`, { cause: outcome.spawnError });
  }
  const exitCode = outcome.exitCode ?? 128 + (outcome.exitSignal === null ? 0 : (constants.signals[outcome.exitSignal] ?? 0));
  if (limits.cpuTimeMs !== undefined && exitCode === cpuLimitExitCode) {
    throw cpuLimitError('bubblewrap', limits.cpuTimeMs, `RLIMIT_CPU of ${cpuSeconds(limits.cpuTimeMs)} s per process set by prlimit`);
  }
  return { value: null, stdout: outcome.stdout.text(), stderr: outcome.stderr.text(), exitCode, durationMs: outcome.durationMs };
}

/**
 * What keeps the runner from working here, or undefined when it works. bwrap installed is not enough: user
 * namespaces may be disabled, the version may lack --disable-userns, and under a root host bwrap must work as the
 * sandbox user. One real sandbox start with the same identity and flags as a job answers all of it.
 */
async function diagnose(bwrap: string | undefined): Promise<string | undefined> {
  if (process.platform !== 'linux') return `bubblewrap needs Linux, and this is ${process.platform}`;
  if (!seccompSupported()) return `no seccomp filter is defined for the ${process.arch} architecture (x64 and arm64 are)`;
  if (bwrap === undefined) return 'bwrap is not installed (not found on the system folders or PATH)';
  if (!isExecutable(bwrap)) return `bwrap is not installed (no executable at ${bwrap})`;
  if (findPrlimit() === undefined) return 'prlimit (util-linux), which sets the job\'s CPU, memory and process limits, is not installed';
  const args = ['--unshare-all', '--unshare-user', '--uid', '65534', '--gid', '65534', '--disable-userns', '--die-with-parent', '--ro-bind', '/', '/', '--seccomp', seccompDescriptor, 'true'];
  const identity = sandboxSpawnIdentity();
  const stderr = await new Promise<string | Error>((resolve) => {
    const child = spawn(bwrap, args, { env: {}, cwd: '/', stdio: ['ignore', 'ignore', 'pipe', 'ignore', 'pipe'], timeout: 10_000, ...identity });
    let text = '';
    child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    const seccomp = child.stdio[4];
    if (seccomp !== null && seccomp !== undefined && 'end' in seccomp) {
      seccomp.on('error', () => {});
      seccomp.end(seccompProgram());
    }
    child.on('error', (error) => resolve(error));
    child.on('close', (code) => resolve(code === 0 ? '' : text.trim() || `bwrap exited with code ${code}`));
  });
  if (stderr instanceof Error) return `${bwrap} could not be started (${stderr.message})`;
  if (stderr === '') return undefined;
  const user = jobsRunAsSandboxUser() ? ' as the sandbox user (uid 65534)' : '';
  if (/disable-userns/.test(stderr)) return `${bwrap} is too old for --disable-userns (bubblewrap 0.8 or newer needed): ${stderr}`;
  return `${bwrap} cannot create its namespaces${user} (are unprivileged user namespaces disabled?): ${stderr}`;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, fileConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}
