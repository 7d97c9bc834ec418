// The sandbox contract; the runners live in src/sandbox/.

/**
 * One piece of untrusted work. `javascript` runs as the body of an async function that receives `input` and whose
 * return value (JSON-serialisable) is the result; `command` runs a program with arguments (bubblewrap only, since
 * no other runner can stop a native program from doing whatever its user can do).
 */
export type SandboxJob =
  | { readonly kind: 'javascript'; readonly code: string; readonly input?: unknown }
  | {
      readonly kind: 'command';
      readonly argv: readonly string[];
      readonly stdin?: string;
      /** Written into the work folder before the command starts; keys are relative paths inside it. */
      readonly files?: Readonly<Record<string, string>>;
    };

export type SandboxJobKind = SandboxJob['kind'];

export interface SandboxLimits {
  /** Wall-clock limit; past it the job is killed and the run fails with `tool-timeout`. */
  readonly timeoutMs: number;
  /** Memory the job may use, in MiB; how a runner bounds it is in its doc comment. */
  readonly memoryMb?: number;
  readonly cpuTimeMs?: number;
  /** Host paths the job may read (files or folders, absolute). */
  readonly readPaths?: readonly string[];
  /** A host folder that becomes the job's private work folder; without it each run gets a fresh temporary one. */
  readonly writePath?: string;
  /** Bytes kept of stdout and of stderr each (cut with a marker), and the largest result JSON accepted. Defaults to 1 MiB. */
  readonly outputBytes?: number;
}

export type SandboxLimitName = keyof SandboxLimits;

export type RunnerName = 'in-process' | 'worker' | 'process' | 'bubblewrap';

/**
 * What a runner keeps away from, or bounds for, the job. A runner lists only what it really contains on this Node
 * version; tests assert both directions, so a claim that stops being true fails the build.
 */
export type Containment =
  | 'file-system'
  | 'network'
  | 'child-processes'
  | 'environment'
  | 'cpu'
  | 'memory'
  /** The job can neither signal, trace nor inspect the host or other processes. */
  | 'signals'
  /** The job can neither read the host process's memory nor end the host by exhausting its own. */
  | 'host-memory';

export interface SandboxResult {
  /** The JavaScript job's return value after a JSON round trip; `null` for command jobs. */
  readonly value: unknown;
  readonly stdout: string;
  readonly stderr: string;
  /** Command jobs only: the command's exit status (128 + signal number when a signal ended it). */
  readonly exitCode?: number;
  readonly durationMs: number;
  /** Reported by the job's own process where the runner has one; informational, not a measurement Keel trusts. */
  readonly cpuMs?: number;
  readonly peakMemoryMb?: number;
}

export interface SandboxRunner {
  readonly name: RunnerName;
  /** Strength rank: 0 is no isolation at all; a higher number keeps more away from the host. */
  readonly isolation: number;
  readonly jobKinds: ReadonlySet<SandboxJobKind>;
  readonly contains: ReadonlySet<Containment>;
  /** The limits this runner enforces; asking for any other is refused rather than silently ignored. */
  readonly enforces: ReadonlySet<SandboxLimitName>;
  /** Whether the runner works on this machine; cached after the first check. */
  available(): Promise<boolean>;
  /** Resolves with the result, or rejects with a KeelError that names the limit or the violation. */
  run(job: SandboxJob, limits: SandboxLimits, signal?: AbortSignal): Promise<SandboxResult>;
}
