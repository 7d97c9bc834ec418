// The scratch copy of the peer harness for `npm run bench:peers`: find the harness (the project's own in
// bench/peers/suite, or another folder of the same layout given with --harness to cross-check), copy it to a scratch
// folder outside the repository, install each peer framework there with its pinned versions, and write Keel's
// harness adapters next to the peers'. Nothing a peer installs ever lands in the repository.
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The peer folders and the adapters run-all.mjs measures for each; the first is the peer's main adapter. */
export const peerAdapters: Readonly<Record<string, readonly string[]>> = {
  raw: ['raw/adapter-http.mjs', 'raw/adapter-stream.mjs'],
  oai: ['oai/adapter.mjs', 'oai/adapter-trace-noop.mjs', 'oai/adapter-trace-batch.mjs'],
  aisdk: ['aisdk/adapter.mjs', 'aisdk/adapter-openai.mjs', 'aisdk/adapter-stream.mjs'],
  lg: ['lg/adapter.mjs', 'lg/adapter-memory.mjs', 'lg/adapter-sqlite.mjs'],
  mastra: ['mastra/adapter.mjs'],
};

/** The folders that need `npm install` (raw uses only Node). */
export const installedPeers = ['oai', 'aisdk', 'lg', 'mastra'] as const;

export const keelAdapters = [
  { file: 'keel/adapter-sqlite.mjs', name: 'keel-sqlite', description: 'Keel, SQLite journal in a temporary file, non-streaming', journal: 'file', streaming: false },
  { file: 'keel/adapter-memory.mjs', name: 'keel-memory', description: 'Keel, in-memory journal (":memory:"), non-streaming', journal: 'memory', streaming: false },
  { file: 'keel/adapter-sqlite-stream.mjs', name: 'keel-sqlite-stream', description: 'Keel, SQLite journal in a temporary file, streaming', journal: 'file', streaming: true },
] as const;

/** Native addons that npm may have installed without building; a peer is incomplete without their binary. */
const nativeBinaries: Readonly<Record<string, string>> = { 'better-sqlite3': 'build/Release/better_sqlite3.node' };

export function isHarnessFolder(folder: string): boolean {
  return existsSync(join(folder, 'harness', 'run-all.mjs')) && existsSync(join(folder, 'harness', 'bench.mjs'));
}

/** --harness, then KEEL_PEER_HARNESS, then the project's own harness in bench/peers/suite. */
export function locateHarness(repositoryRoot: string, explicit: string | undefined): string {
  const candidates = explicit !== undefined ? [explicit] : [process.env.KEEL_PEER_HARNESS, join(repositoryRoot, 'bench', 'peers', 'suite')];
  for (const candidate of candidates) if (candidate !== undefined && candidate !== '' && isHarnessFolder(resolve(candidate))) return resolve(candidate);
  throw new Error(`no peer harness found (looked for harness/run-all.mjs in ${candidates.filter(Boolean).join(', ')}); pass --harness DIR or set KEEL_PEER_HARNESS.`);
}

function isInside(child: string, parent: string): boolean {
  const path = relative(parent, child);
  return path === '' || (!path.startsWith('..') && !path.startsWith(sep) && path !== '..');
}

/**
 * Copies the harness into the scratch folder, file by file, leaving any node_modules there from an earlier run in
 * place so installs are cached. The source may be read-only; the copies are made writable so a later run can
 * overwrite them and npm can write into the peer folders.
 */
export function copyHarness(harness: string, scratch: string, repositoryRoot: string): void {
  if (isInside(resolve(scratch), repositoryRoot)) throw new Error(`the scratch folder ${scratch} is inside the repository; peers must be installed outside the repository.`);
  const copyFolder = (from: string, to: string) => {
    mkdirSync(to, { recursive: true });
    chmodSync(to, 0o755);
    for (const entry of readdirSync(from, { withFileTypes: true })) {
      if (entry.name === 'node_modules') continue;
      const source = join(from, entry.name);
      const target = join(to, entry.name);
      if (entry.isDirectory()) copyFolder(source, target);
      else if (entry.isFile()) {
        rmSync(target, { force: true });
        copyFileSync(source, target);
        chmodSync(target, 0o644);
      }
    }
  };
  copyFolder(harness, scratch);
}

function readVersion(manifest: string): string | undefined {
  try {
    const version = (JSON.parse(readFileSync(manifest, 'utf8')) as { version?: unknown }).version;
    return typeof version === 'string' ? version : undefined;
  } catch {
    return undefined;
  }
}

/** Why a peer's node_modules is not usable as it is, or null when it is complete. */
export function installProblem(peerFolder: string): string | null {
  const modules = join(peerFolder, 'node_modules');
  // npm writes node_modules/.package-lock.json at the end of a successful install; a half-finished one lacks it.
  if (!existsSync(join(modules, '.package-lock.json'))) return 'no finished install';
  const manifest = JSON.parse(readFileSync(join(peerFolder, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  for (const [name, wanted] of Object.entries(manifest.dependencies ?? {})) {
    const installed = readVersion(join(modules, name, 'package.json'));
    if (installed !== wanted) return `${name} is ${installed ?? 'missing'}, package.json pins ${wanted}`;
  }
  for (const [name, binary] of Object.entries(nativeBinaries)) {
    if (existsSync(join(modules, name, 'package.json')) && !existsSync(join(modules, name, binary))) return `${name}'s native addon was not built`;
  }
  return null;
}

export interface InstallOutcome {
  readonly peer: string;
  readonly status: 'cached' | 'installed' | 'failed';
  readonly seconds: number;
  readonly detail: string;
}

function runLogged(command: string, args: readonly string[], cwd: string, logFile: string): Promise<number> {
  return new Promise((resolvePromise) => {
    const log = createWriteStream(logFile);
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    child.on('error', (error) => {
      log.end(`\n${error.message}\n`);
      resolvePromise(-1);
    });
    child.on('close', (code) => log.end(() => resolvePromise(code ?? -1)));
  });
}

/** Installs one peer folder unless it is complete already; a failure is reported, not thrown, so the others still run. */
export async function installPeer(scratch: string, peer: string): Promise<InstallOutcome> {
  const folder = join(scratch, peer);
  const before = installProblem(folder);
  if (before === null) return { peer, status: 'cached', seconds: 0, detail: 'node_modules complete' };
  const logFile = join(folder, 'npm-install.log');
  const started = performance.now();
  const code = await runLogged('npm', ['install', '--no-audit', '--no-fund'], folder, logFile);
  const seconds = (performance.now() - started) / 1000;
  const after = installProblem(folder);
  if (code === 0 && after === null) return { peer, status: 'installed', seconds, detail: `was: ${before}` };
  const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-15).join('\n') : '';
  return { peer, status: 'failed', seconds, detail: `npm install exited ${code}${after === null ? '' : `; ${after}`}; log ${logFile}:\n${tail}` };
}

/** Where Keel's adapters are written in the scratch folder, and what their measurements are called. */
export interface KeelAdapterSet {
  /** The folder under scratch: `keel` for this checkout. */
  readonly folder: string;
  /** Appended to each adapter's name (`keel-sqlite@21b084d`), so an earlier Keel can be measured in the same run. */
  readonly suffix: string;
}

/** Writes the Keel adapters into scratch/<folder>/; each imports the bridge of the Keel tree `keelRoot` by absolute file URL. */
export function writeKeelAdapters(scratch: string, keelRoot: string, set: KeelAdapterSet = { folder: 'keel', suffix: '' }): string[] {
  const bridge = pathToFileURL(join(keelRoot, 'bench', 'peers', 'keel-harness-adapter.mjs')).href;
  if (!existsSync(fileURLToPath(bridge))) throw new Error(`${keelRoot} has no bench/peers/keel-harness-adapter.mjs: it is not a Keel checkout this harness can measure.`);
  const written: string[] = [];
  for (const { file, ...adapter } of keelAdapters) {
    const options = { ...adapter, name: `${adapter.name}${set.suffix}` };
    const relativeFile = join(set.folder, basename(file));
    const path = join(scratch, relativeFile);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(
      path,
      [
        `// Written by bench/peers/run-peers.ts: ${options.description}. Keel comes from ${keelRoot}.`,
        `import { harnessAdapter } from ${JSON.stringify(bridge)};`,
        `export const { name, versions, setup, runSession, teardown } = harnessAdapter(${JSON.stringify(options)});`,
        '',
      ].join('\n'),
    );
    written.push(relativeFile);
  }
  return written;
}
