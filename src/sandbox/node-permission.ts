import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The program a sandboxed Node process runs; plain JavaScript, readable by the sandboxed process and nothing else. */
export const processProgramPath = fileURLToPath(new URL('./process-program.mjs', import.meta.url));

export interface NodeVersion {
  readonly major: number;
  readonly minor: number;
}

const versionCache = new Map<string, NodeVersion | null>();

/** The version of the Node binary at `nodePath`: the running one is read for free, another is asked once. */
export function nodeVersionOf(nodePath: string): NodeVersion | undefined {
  if (nodePath === process.execPath) return parseVersion(process.versions.node);
  if (!versionCache.has(nodePath)) {
    const answer = spawnSync(nodePath, ['--version'], { encoding: 'utf8', timeout: 10_000, env: {} });
    versionCache.set(nodePath, answer.status === 0 ? (parseVersion(answer.stdout.trim()) ?? null) : null);
  }
  return versionCache.get(nodePath) ?? undefined;
}

function parseVersion(text: string): NodeVersion | undefined {
  const match = /^v?(\d+)\.(\d+)\./.exec(text);
  return match === null ? undefined : { major: Number(match[1]), minor: Number(match[2]) };
}

/**
 * Node 20 has the permission model as `--experimental-permission`; it became `--permission` in 22.13 and 23.5, and
 * later versions dropped the old spelling. Before 20 there is none.
 */
export function permissionFlag(version: NodeVersion): string | undefined {
  const { major, minor } = version;
  if (major < 20) return undefined;
  if (major >= 24 || (major === 23 && minor >= 5) || (major === 22 && minor >= 13)) return '--permission';
  return '--experimental-permission';
}

/**
 * Node 25 made the permission model deny network access unless `--allow-net` is given; on 20, 22 and 24 a process
 * under the permission model can still open any socket.
 */
export function permissionModelDeniesNetwork(version: NodeVersion): boolean {
  return version.major >= 25;
}

export interface NodeSandboxPaths {
  /** The program as the sandboxed process sees it. */
  readonly programPath: string;
  readonly readPaths: readonly string[];
  readonly workFolder: string;
}

/**
 * The Node flags of a sandboxed job: reads limited to the program, the given paths and the work folder, writes to
 * the work folder; no `--allow-child-process`, `--allow-worker`, `--allow-addons`, `--allow-wasi` or
 * `--allow-inspector`, so all of those are denied; `--no-addons` as well, for Node versions that know it but not the
 * permission's addon rule. `memoryMb` caps the V8 heap.
 */
export function nodeSandboxArguments(version: NodeVersion, paths: NodeSandboxPaths, memoryMb: number | undefined): string[] {
  const flag = permissionFlag(version);
  if (flag === undefined) throw new Error(`Node ${version.major}.${version.minor} has no permission model.`);
  return [
    flag,
    // Node 20 warns on every start that the permission model is experimental; that is noise in the job's stderr.
    '--disable-warning=ExperimentalWarning',
    `--allow-fs-read=${paths.programPath}`,
    `--allow-fs-read=${paths.workFolder}`,
    ...paths.readPaths.map((path) => `--allow-fs-read=${path}`),
    `--allow-fs-write=${paths.workFolder}`,
    '--no-addons',
    ...(memoryMb === undefined ? [] : [`--max-old-space-size=${Math.max(1, Math.floor(memoryMb))}`]),
    paths.programPath,
  ];
}

/** What Node prints before aborting when a heap limit is reached. */
export function isHeapExhaustion(stderrTail: string): boolean {
  return stderrTail.includes('JavaScript heap out of memory') || stderrTail.includes('Reached heap limit');
}
