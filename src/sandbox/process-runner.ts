import { spawn } from 'node:child_process';
import { KeelError } from '../errors/index.ts';
import { findSystemTool } from './executables.ts';
import { answerBytesFor, encodeNodeJob, settleNodeJob } from './node-job-protocol.ts';
import type { Enforcement } from './node-job-protocol.ts';
import { nodeSandboxArguments, nodeVersionOf, permissionFlag, permissionModelDeniesNetwork, processProgramPath } from './node-permission.ts';
import { cpuSeconds, findPrlimit, nodeRuntimeHeadroomMb, nodeStartupDataMb, prlimitArguments } from './resource-limits.ts';
import { procfsAvailable, watchProcess } from './resource-watchdog.ts';
import { sandboxConcurrency, withConcurrencyLimit } from './concurrency.ts';
import type { ConcurrencyLimiter } from './concurrency.ts';
import { assertRunnable, defaultOutputBytes, withDefaultLimits } from './sandbox.ts';
import { sandboxSpawnIdentity } from './sandbox-user.ts';
import type { Containment, SandboxJob, SandboxLimits, SandboxResult, SandboxRunner } from './sandbox.ts';
import { superviseProcess } from './supervised-process.ts';
import { prepareWorkFolder, resolveReadPaths } from './work-folder.ts';

export interface ProcessRunnerOptions {
  /** Jobs of this runner that may run at once; defaults to the process-wide process-runner limiter (one per CPU). */
  readonly concurrency?: ConcurrencyLimiter;
  /** The Node binary that runs jobs; defaults to the one running Keel. */
  readonly nodePath?: string;
  /**
   * How CPU time and memory outside the V8 heap are bounded: `prlimit` (the kernel's RLIMIT_CPU and RLIMIT_DATA;
   * the default where util-linux's prlimit is installed) or `watchdog` (the parent polls /proc and kills).
   */
  readonly limitEnforcement?: 'prlimit' | 'watchdog';
}

/**
 * Runs JavaScript in a fresh `node` process under Node's permission model. It is a seat belt for trusted code, NOT
 * a sandbox for untrusted code: Node's own security policy says so, and `selectRunner` never offers it for
 * untrusted code. docs/sandboxes.md has the table of what each runner contains.
 *
 * Contains: file-system reads outside the program, `readPaths` and the work folder, and writes outside the work
 * folder (`ERR_ACCESS_DENIED` → `sandbox-violation`); child processes, worker threads, native addons, WASI and the
 * inspector (so no fork bomb either); the host's environment (the process starts with an empty one); the host's
 * memory (a separate process); CPU time and memory (see `enforces`, with defaults); the wall clock. Under a root
 * host the process runs as `nobody` (65534), so it cannot signal the host or root's processes. The whole process
 * group is killed on timeout, abort, and after the answer, and (with util-linux's setpriv) when the host dies.
 *
 * Does not contain: the network on Node 20, 22 and 24 (their permission model has no network rule; Node 25 denies
 * it), signals to processes of its own user (the host's, when the host is not root; other jobs' under a root host),
 * anything readable through the allowed paths, and the kernel's attack surface. The bubblewrap runner puts this
 * same process inside namespaces, which is the boundary.
 */
export function createProcessRunner(options: ProcessRunnerOptions = {}): SandboxRunner {
  const nodePath = options.nodePath ?? process.execPath;
  const version = nodeVersionOf(nodePath);
  const contains = new Set<Containment>(['file-system', 'child-processes', 'environment', 'host-memory', 'cpu', 'memory']);
  if (version !== undefined && permissionModelDeniesNetwork(version)) contains.add('network');
  let availability: Promise<boolean> | undefined;

  const runJob = async (job: SandboxJob, requested: SandboxLimits, signal?: AbortSignal): Promise<SandboxResult> => {
    assertRunnable(runner, job.kind, requested);
    if (job.kind !== 'javascript') throw new KeelError('invalid-config', 'The process runner runs javascript jobs only.');
    const flag = version === undefined ? undefined : permissionFlag(version);
    if (version === undefined || flag === undefined) {
      throw new KeelError('sandbox-unavailable', `The process runner needs Node 20 or newer with the permission model at ${nodePath}.`);
    }
    const limits = withDefaultLimits(runner, requested);
    const enforcement = chooseEnforcement(options.limitEnforcement, limits);
    const readPaths = resolveReadPaths(limits.readPaths);
    const workFolder = await prepareWorkFolder(limits.writePath, { timeoutMs: limits.timeoutMs, signal });
    try {
      const nodeArguments = nodeSandboxArguments(version, { programPath: processProgramPath, readPaths, workFolder: workFolder.path }, limits.memoryMb);
      const cpuTimeMs = limits.cpuTimeMs;
      // The kernel counts Node's own start-up reservations; the /proc watchdog sees resident memory, which does not.
      const startupMb = enforcement.mode === 'prlimit' ? await nodeStartupDataMb(nodePath) : 0;
      const totalMemoryMb = limits.memoryMb === undefined ? undefined : startupMb + limits.memoryMb + nodeRuntimeHeadroomMb;
      const chain = [
        ...(enforcement.mode === 'prlimit' ? [enforcement.prlimitPath, ...prlimitArguments({ cpuTimeMs, dataMb: totalMemoryMb }), '--'] : []),
        ...parentDeathWrapper(),
        nodePath,
        ...nodeArguments,
      ];
      const outcome = await superviseProcess({
        command: chain[0] ?? nodePath,
        args: chain.slice(1),
        cwd: workFolder.path,
        env: {},
        ...sandboxSpawnIdentity(),
        stdin: encodeNodeJob(job.code, job.input),
        answerBytes: answerBytesFor(limits.outputBytes ?? defaultOutputBytes),
        timeoutMs: limits.timeoutMs,
        outputBytes: limits.outputBytes ?? defaultOutputBytes,
        ...(signal === undefined ? {} : { signal }),
        ...(enforcement.mode === 'watchdog'
          ? { watch: (pid: number, stop: (reason: string) => void) => watchProcess(pid, { cpuTimeMs, memoryMb: totalMemoryMb }, stop) }
          : {}),
      });
      return settleNodeJob('process', outcome, limits, describeEnforcement(enforcement.mode, limits, totalMemoryMb ?? 0), signal);
    } finally {
      await workFolder.release();
    }
  };

  const runner: SandboxRunner = {
    name: 'process',
    isolation: 2,
    jobKinds: new Set(['javascript']),
    contains,
    enforces: new Set(['timeoutMs', 'memoryMb', 'cpuTimeMs', 'readPaths', 'writePath', 'outputBytes']),
    available: () => (availability ??= checkAvailable(nodePath)),
    run: withConcurrencyLimit('process', options.concurrency ?? sandboxConcurrency('process'), runJob),
  };
  return runner;
}

/**
 * The job runs in a process group of its own, so it would outlive a host that crashes or is killed; setpriv
 * (util-linux) makes the kernel send it SIGKILL when its parent, the host, dies, and sets no_new_privs, so that no
 * setuid program could raise its rights. Without setpriv a job outlives a crashed host until its CPU limit ends it.
 */
function parentDeathWrapper(): string[] {
  const setpriv = findSystemTool('setpriv');
  return setpriv === undefined ? [] : [setpriv, '--pdeathsig', 'KILL', '--no-new-privs', '--'];
}

type EnforcementChoice = { readonly mode: 'prlimit'; readonly prlimitPath: string } | { readonly mode: 'watchdog' } | { readonly mode: 'none' };

function chooseEnforcement(preference: 'prlimit' | 'watchdog' | undefined, limits: SandboxLimits): EnforcementChoice {
  const needed = limits.cpuTimeMs !== undefined || limits.memoryMb !== undefined;
  if (!needed) return { mode: 'none' };
  const prlimitPath = preference === 'watchdog' ? undefined : findPrlimit();
  if (prlimitPath !== undefined) return { mode: 'prlimit', prlimitPath };
  if (preference === 'prlimit') {
    throw new KeelError('sandbox-unavailable', 'The process runner was told to enforce limits with prlimit, which is not installed (apt-get install util-linux).');
  }
  if (procfsAvailable()) return { mode: 'watchdog' };
  throw new KeelError(
    'sandbox-unavailable',
    'The process runner cannot enforce cpuTimeMs or memoryMb here: it needs prlimit (apt-get install util-linux) or /proc to watch the process.',
  );
}

function describeEnforcement(mode: EnforcementChoice['mode'], limits: SandboxLimits, total: number): Enforcement {
  const heap = limits.memoryMb === undefined ? '' : `V8 heap capped by --max-old-space-size=${Math.floor(limits.memoryMb)}`;
  if (mode === 'watchdog') {
    return {
      cpu: 'measured from /proc by the watchdog (prlimit is not installed)',
      memory: `${heap}; resident memory over ${total} MiB killed by the /proc watchdog`,
      cpuHardLimitKills: false,
    };
  }
  return {
    cpu: `RLIMIT_CPU of ${limits.cpuTimeMs === undefined ? 0 : cpuSeconds(limits.cpuTimeMs)} s set by prlimit`,
    memory: `${heap}; all writable memory capped at ${total} MiB by prlimit (RLIMIT_DATA)`,
    cpuHardLimitKills: mode === 'prlimit' && limits.cpuTimeMs !== undefined,
  };
}

/** A trial start under the permission flag: the binary exists, is new enough, and accepts the flags we use. */
function checkAvailable(nodePath: string): Promise<boolean> {
  const version = nodeVersionOf(nodePath);
  const flag = version === undefined ? undefined : permissionFlag(version);
  if (flag === undefined) return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn(nodePath, [flag, '--disable-warning=ExperimentalWarning', '--no-addons', '-e', '0'], { env: {}, cwd: '/', stdio: 'ignore', timeout: 10_000, ...sandboxSpawnIdentity() });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
}
