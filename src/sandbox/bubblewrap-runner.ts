import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { constants } from 'node:os';
import { KeelError } from '../errors/index.ts';
import { bubblewrapArguments, sandboxWorkFolder } from './bubblewrap-arguments.ts';
import type { BubblewrapLayout } from './bubblewrap-arguments.ts';
import { findExecutable } from './executables.ts';
import { answerBytesFor, encodeNodeJob, settleNodeJob } from './node-job-protocol.ts';
import type { Enforcement } from './node-job-protocol.ts';
import { nodeSandboxArguments, nodeVersionOf, permissionFlag, processProgramPath } from './node-permission.ts';
import { cpuLimitExitCode, cpuSeconds, findPrlimit, nodeRuntimeHeadroomMb, nodeStartupDataMb, prlimitArguments } from './resource-limits.ts';
import type { KernelLimits } from './resource-limits.ts';
import { assertRunnable, defaultOutputBytes } from './sandbox.ts';
import type { SandboxJob, SandboxLimits, SandboxResult, SandboxRunner } from './sandbox.ts';
import { abortedError, cpuLimitError, timeoutError } from './sandbox-errors.ts';
import { superviseProcess } from './supervised-process.ts';
import type { SupervisedProcessOutcome } from './supervised-process.ts';
import { prepareWorkFolder, resolveReadPaths, writeJobFiles } from './work-folder.ts';

export const bubblewrapInstallHint = 'install bubblewrap (apt-get install bubblewrap, dnf install bubblewrap, apk add bubblewrap) and allow unprivileged user namespaces';
/** Where the job program sits inside the sandbox for JavaScript jobs. */
const programInside = '/sandbox/process-program.mjs';

export interface BubblewrapRunnerOptions {
  /** The bwrap binary; found on the system by default. */
  readonly bubblewrapPath?: string;
  /** The Node binary for JavaScript jobs; defaults to the one running Keel. */
  readonly nodePath?: string;
}

/**
 * Runs commands, and JavaScript (in `node` under the permission model, as the process runner does), inside
 * bubblewrap: Linux namespaces set up without a privileged helper.
 *
 * Contains: the network (a network namespace of its own: only its own loopback, so even the host's 127.0.0.1 is out
 * of reach), the file system (only /usr and the system library folders read-only, a minimal /etc without shadow or
 * keys, the `readPaths` read-only, the work folder read-write at /work, a private /tmp), processes (its own pid
 * namespace: it sees none of the host's, and everything it started dies with it), the environment (cleared),
 * privileges (uid 65534, no capabilities), CPU time and memory (RLIMIT_CPU and RLIMIT_DATA via prlimit, each per
 * process), the wall clock.
 *
 * Does not contain: the kernel's system calls (no seccomp filter: a kernel bug is an escape), disk space in the
 * work folder, the number of processes (a fork bomb runs until the timeout; a pids cgroup would bound it), and CPU
 * and memory summed over several processes. For commands, a violation is what the kernel tells the command (no
 * such file, read-only file system, network unreachable) and comes back in its exit code and stderr, as does a
 * failed allocation; Keel raises errors for what it can tell for certain: timeout, CPU limit, abort.
 */
export function createBubblewrapRunner(options: BubblewrapRunnerOptions = {}): SandboxRunner {
  const nodePath = options.nodePath ?? process.execPath;
  let availability: Promise<boolean> | undefined;
  const bubblewrapPath = (): string | undefined => options.bubblewrapPath ?? findExecutable('bwrap');

  const runner: SandboxRunner = {
    name: 'bubblewrap',
    isolation: 3,
    jobKinds: new Set(['javascript', 'command']),
    contains: new Set(['file-system', 'network', 'child-processes', 'environment', 'cpu', 'memory']),
    enforces: new Set(['timeoutMs', 'memoryMb', 'cpuTimeMs', 'readPaths', 'writePath', 'outputBytes']),
    available: () => (availability ??= checkAvailable(bubblewrapPath())),
    run: async (job: SandboxJob, limits: SandboxLimits, signal?: AbortSignal): Promise<SandboxResult> => {
      assertRunnable(runner, job.kind, limits);
      const bwrap = bubblewrapPath();
      if (bwrap === undefined || !(await runner.available())) {
        throw new KeelError('sandbox-unavailable', `The bubblewrap runner cannot run here: ${bwrap === undefined ? 'bwrap is not installed' : 'bwrap cannot create namespaces'}; ${bubblewrapInstallHint}.`);
      }
      const prlimit = findPrlimit();
      if (prlimit === undefined && (limits.cpuTimeMs !== undefined || limits.memoryMb !== undefined)) {
        throw new KeelError('sandbox-unavailable', 'The bubblewrap runner enforces cpuTimeMs and memoryMb with prlimit, which is not installed (apt-get install util-linux).');
      }
      const readPaths = resolveReadPaths(limits.readPaths);
      const workFolder = prepareWorkFolder(limits.writePath);
      try {
        const launch =
          job.kind === 'command'
            ? commandLaunch(job, workFolder.path, readPaths, limits)
            : javascriptLaunch(job, nodePath, workFolder.path, readPaths, limits, limits.memoryMb === undefined ? 0 : await nodeStartupDataMb(nodePath));
        const prefix = prlimit === undefined || launch.kernelLimits === undefined ? [] : [...prlimitArguments(launch.kernelLimits), '--', bwrap];
        const outcome = await superviseProcess({
          command: prefix.length === 0 ? bwrap : (prlimit as string),
          args: [...prefix, ...bubblewrapArguments(launch.layout), '--', ...launch.inner],
          cwd: workFolder.path,
          env: {},
          ...(launch.stdin === undefined ? {} : { stdin: launch.stdin }),
          ...(job.kind === 'javascript' ? { answerBytes: answerBytesFor(limits.outputBytes ?? defaultOutputBytes) } : {}),
          timeoutMs: limits.timeoutMs,
          outputBytes: limits.outputBytes ?? defaultOutputBytes,
          ...(signal === undefined ? {} : { signal }),
        });
        if (job.kind === 'javascript') return settleNodeJob('bubblewrap', outcome, limits, describeEnforcement(limits, launch.kernelLimits?.dataMb ?? 0), signal);
        return settleCommand(outcome, limits, signal);
      } finally {
        workFolder.release();
      }
    },
  };
  return runner;
}

interface Launch {
  readonly layout: BubblewrapLayout;
  readonly inner: readonly string[];
  readonly kernelLimits: KernelLimits | undefined;
  readonly stdin?: string;
}

function commandLaunch(job: Extract<SandboxJob, { kind: 'command' }>, workFolder: string, readPaths: string[], limits: SandboxLimits): Launch {
  if (job.argv.length === 0 || job.argv[0] === '') throw new KeelError('invalid-argument', 'A command job needs a program name in argv[0].');
  writeJobFiles(workFolder, job.files ?? {});
  const kernelLimits = limits.cpuTimeMs === undefined && limits.memoryMb === undefined ? undefined : { cpuTimeMs: limits.cpuTimeMs, dataMb: limits.memoryMb };
  return { layout: { workFolder, readPaths }, inner: job.argv, kernelLimits, ...(job.stdin === undefined ? {} : { stdin: job.stdin }) };
}

function javascriptLaunch(
  job: Extract<SandboxJob, { kind: 'javascript' }>,
  nodePath: string,
  workFolder: string,
  readPaths: string[],
  limits: SandboxLimits,
  startupDataMb: number,
): Launch {
  const version = nodeVersionOf(nodePath);
  if (version === undefined || permissionFlag(version) === undefined) {
    throw new KeelError('sandbox-unavailable', `The bubblewrap runner runs JavaScript with Node 20 or newer, not found at ${nodePath}.`);
  }
  const nodeBinary = realpathSync(nodePath);
  const nodeArguments = nodeSandboxArguments(version, { programPath: programInside, readPaths, workFolder: sandboxWorkFolder }, limits.memoryMb);
  const kernelLimits =
    limits.cpuTimeMs === undefined && limits.memoryMb === undefined
      ? undefined
      : { cpuTimeMs: limits.cpuTimeMs, dataMb: limits.memoryMb === undefined ? undefined : startupDataMb + limits.memoryMb + nodeRuntimeHeadroomMb };
  return {
    layout: {
      workFolder,
      readPaths,
      // /usr is already there; a Node installed elsewhere (nvm, a tarball) is bound at its own path.
      readOnlyBinds: [{ source: processProgramPath, target: programInside }, ...(nodeBinary.startsWith('/usr/') ? [] : [{ source: nodeBinary, target: nodeBinary }])],
    },
    inner: [nodeBinary, ...nodeArguments],
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

/** bwrap installed is not enough: user namespaces may be disabled. One real sandbox start answers both. */
function checkAvailable(bwrap: string | undefined): Promise<boolean> {
  if (bwrap === undefined) return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn(bwrap, ['--unshare-all', '--unshare-user', '--die-with-parent', '--ro-bind', '/', '/', 'true'], { env: {}, stdio: 'ignore', timeout: 10_000 });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
}
