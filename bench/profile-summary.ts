// Summarises a V8 .cpuprofile (from `node --cpu-prof`, or BENCH_CPU_PROFILE of bench/measure.ts): self time by
// package or Keel folder, the top functions by self time, and the inclusive time of Keel's own functions (each
// sample counted once per function on its stack). Native code is charged to the package that called it.
// Line numbers are those of tsx's transpiled output, close to but not always the source's.
//
//   npx tsx bench/profile-summary.ts bench/results/profiles/keel-sqlite-seq.cpuprofile [--top 25]
//
// Percentages are of busy time (all samples but idle). Only synchronous stacks are sampled, so the inclusive
// time of an async function covers its synchronous stretches, not the awaits in between.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Where a frame's code lives: an npm package, a part of Node, a folder of Keel's src/, the benchmark, or a V8 pseudo-frame. */
export function bucketOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') {
    if (functionName === '(garbage collector)') return '(gc)';
    if (functionName === '(idle)' || functionName === '(program)' || functionName === '(root)') return functionName;
    return '(native: JSON, RegExp, builtins)';
  }
  const normalized = url.replaceAll('\\', '/');
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(normalized);
  if (packageMatch?.[1] !== undefined) return packageMatch[1];
  if (normalized.startsWith('node:')) {
    if (normalized.includes('deps/undici')) return 'node: undici (fetch)';
    if (normalized.includes('webstreams')) return 'node: web streams';
    const internal = /^node:internal\/([^/]+)/.exec(normalized);
    return `node: ${internal?.[1] ?? normalized.slice('node:'.length)}`;
  }
  const keelMatch = /\/src\/([^/]+)\//.exec(normalized);
  if (keelMatch?.[1] !== undefined) return `keel src/${keelMatch[1]}`;
  if (normalized.includes('/bench/')) return 'bench';
  return normalized;
}

function frameLabel(frame: CallFrame, bucket = bucketOf(frame)): string {
  const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
  if (frame.url === '') return bucket.startsWith('(') ? name : `${name}  [${bucket}]`;
  return `${name}  [${bucket}: ${basename(frame.url)}:${frame.lineNumber + 1}]`;
}

function isKeelFrame(frame: CallFrame): boolean {
  return /\/src\/[^/]+\/[^/]+\.ts$/.test(frame.url.replaceAll('\\', '/')) && !frame.url.includes('node_modules');
}

export interface ProfileSummary {
  readonly busyMs: number;
  readonly sampledMs: number;
  readonly byBucket: readonly (readonly [string, number])[];
  readonly bySelf: readonly (readonly [string, number])[];
  readonly keelInclusive: readonly (readonly [string, number])[];
}

export function summarizeProfile(profile: CpuProfile): ProfileSummary {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);

  const selfByNode = new Map<number, number>();
  profile.samples.forEach((id, index) => selfByNode.set(id, (selfByNode.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));

  const add = (map: Map<string, number>, key: string, value: number): void => {
    map.set(key, (map.get(key) ?? 0) + value);
  };
  const byBucket = new Map<string, number>();
  const bySelf = new Map<string, number>();
  const keelInclusive = new Map<string, number>();
  let sampled = 0;
  // A native function (empty url: a C++ binding such as better-sqlite3's Statement.run, or a socket's writev)
  // is charged to the package of the JavaScript that called it, marked "(native)".
  const bucketWithCaller = (id: number): string => {
    const frame = nodes.get(id)?.callFrame;
    if (frame === undefined) return '(unknown)';
    const own = bucketOf(frame);
    if (frame.url !== '' || own !== '(native: JSON, RegExp, builtins)') return own;
    for (let current = parents.get(id); current !== undefined; current = parents.get(current)) {
      const caller = nodes.get(current)?.callFrame;
      if (caller !== undefined && caller.url !== '') return `${bucketOf(caller)} (native)`;
    }
    return own;
  };
  for (const [id, microseconds] of selfByNode) {
    const node = nodes.get(id);
    if (node === undefined) continue;
    sampled += microseconds;
    add(byBucket, bucketWithCaller(id), microseconds);
    add(bySelf, frameLabel(node.callFrame, bucketWithCaller(id)), microseconds);
    const seen = new Set<string>();
    for (let current: number | undefined = id; current !== undefined; current = parents.get(current)) {
      const frame = nodes.get(current)?.callFrame;
      if (frame === undefined || !isKeelFrame(frame)) continue;
      const label = frameLabel(frame);
      if (seen.has(label)) continue;
      seen.add(label);
      add(keelInclusive, label, microseconds);
    }
  }
  const sorted = (map: Map<string, number>) => [...map].sort((left, right) => right[1] - left[1]).map(([key, value]) => [key, value / 1000] as const);
  const idle = byBucket.get('(idle)') ?? 0;
  return { busyMs: (sampled - idle) / 1000, sampledMs: sampled / 1000, byBucket: sorted(byBucket), bySelf: sorted(bySelf), keelInclusive: sorted(keelInclusive) };
}

export function formatSummary(summary: ProfileSummary, top = 25): string {
  const rows = (entries: readonly (readonly [string, number])[], count: number, skipIdle = true): string =>
    entries
      .filter(([key]) => !skipIdle || key !== '(idle)')
      .slice(0, count)
      .map(([key, ms]) => `  ${((100 * ms) / summary.busyMs).toFixed(1).padStart(5)} %  ${ms.toFixed(0).padStart(6)} ms  ${key}`)
      .join('\n');
  return [
    `busy ${summary.busyMs.toFixed(0)} ms of ${summary.sampledMs.toFixed(0)} ms sampled; percentages are of busy time`,
    '-- self time by package / Keel folder --',
    rows(summary.byBucket, 20),
    `-- top ${top} functions by self time --`,
    rows(summary.bySelf, top),
    `-- Keel functions by inclusive time (synchronous stretches only) --`,
    rows(summary.keelInclusive, top),
  ].join('\n');
}

export function summarizeProfileFile(path: string, top = 25): string {
  return formatSummary(summarizeProfile(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile), top);
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  const files: string[] = [];
  let top = 25;
  const args = process.argv.slice(2);
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] ?? '';
    if (arg === '--top') {
      top = Number(args[index + 1]);
      index += 1;
    } else files.push(arg);
  }
  if (files.length === 0 || !Number.isInteger(top) || top <= 0) {
    console.error('usage: npx tsx bench/profile-summary.ts <file.cpuprofile>... [--top 25]');
    process.exitCode = 2;
  }
  for (const file of files) console.log(`## ${file}\n${summarizeProfileFile(file, top)}\n`);
}
