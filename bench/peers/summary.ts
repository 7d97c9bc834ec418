// The pure part of `npm run bench:peers`: from the peer harness's result lines (one JSON object per measurement,
// as harness/run-all.mjs writes them) to the tables of the peer baseline, Keel's ratios to each peer and the
// performance target check. No I/O here, so the test can feed it a small fixture.

export type Mode = 'seq' | 'conc';

/** One line of the harness's results file (harness/bench.mjs's RESULT plus run-all's rep and adapterPath). */
export interface HarnessResult {
  readonly adapter: string;
  readonly mode: string;
  readonly rep?: number;
  readonly adapterPath?: string;
  readonly sessions?: number;
  readonly turns?: number;
  readonly totalMs?: number;
  readonly msPerTurn?: number;
  readonly clientCpuMsPerTurn?: number;
  readonly mockCpuMsPerTurn?: number;
  readonly peakRssMB?: number;
  readonly eldP99Ms?: number;
  readonly eldMaxMs?: number;
  readonly sessionP50Ms?: number;
  readonly sessionP99Ms?: number;
  readonly retainedHeapKBPerSession?: number;
  readonly versions?: Readonly<Record<string, string>>;
  readonly error?: string | null;
  readonly stderrTail?: string;
}

export type Metric = 'msPerTurn' | 'clientCpuMsPerTurn' | 'totalMs' | 'peakRssMB' | 'eldP99Ms' | 'eldMaxMs' | 'sessionP50Ms' | 'sessionP99Ms' | 'retainedHeapKBPerSession';

export const baselineAdapter = 'raw-fetch';
export const keelSqlite = 'keel-sqlite';
export const keelSqliteStream = 'keel-sqlite-stream';
export const rssLimitMB = 350;
export const rssTargetSessions = 1000;
export const streamingAllowance = 1.05;
/** Sequential wall per turn may exceed raw fetch's by this much: a durable commit per step is not free. */
export const sequentialWallAllowance = 1.2;

/** Table and chart order: the baseline, the other raw loops, the peers as the peer baseline lists them, then Keel. */
export const preferredOrder: readonly string[] = [
  'raw-fetch', 'raw-node-http', 'raw-fetch-stream',
  'openai-agents', 'openai-agents+trace-noop', 'openai-agents+trace-batch',
  'ai-sdk(openai-compatible)', 'ai-sdk(@ai-sdk/openai chat)', 'ai-sdk-stream(openai-compatible)',
  'langgraph', 'langgraph+MemorySaver', 'langgraph+SqliteSaver(file)', 'langgraph+PostgresSaver',
  'mastra',
  'keel-sqlite', 'keel-sqlite-stream', 'keel-memory',
];

/** The adapter each peer is compared by (its plain configuration), and LangGraph's durable variant, Keel's closest kin. */
export const peerMainAdapters: readonly string[] = ['raw-fetch', 'raw-node-http', 'openai-agents', 'ai-sdk(openai-compatible)', 'langgraph', 'langgraph+SqliteSaver(file)', 'langgraph+PostgresSaver', 'mastra'];

export function parseResultLines(text: string): HarnessResult[] {
  const results: HarnessResult[] = [];
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    try {
      results.push(JSON.parse(line) as HarnessResult);
    } catch (error) {
      throw new Error(`results line ${index + 1} is not JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
  });
  // A measurement that died has only its adapter's path as its name (run-all never saw the RESULT line); give it the
  // name the same file reported elsewhere in the run, so its failure counts against the right row.
  const names = new Map(results.filter((result) => result.adapterPath !== undefined && result.adapter !== result.adapterPath).map((result) => [result.adapterPath, result.adapter]));
  return results.map((result) => (result.adapter === result.adapterPath && names.has(result.adapter) ? { ...result, adapter: names.get(result.adapter) as string } : result));
}

export function median(values: readonly number[]): number {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((left, right) => left - right);
  if (sorted.length === 0) return Number.NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

const succeeded = (result: HarnessResult): boolean => result.error === null || result.error === undefined;

/** The successful measurements of one adapter in one mode, keyed by repetition (the last one wins). */
function byRepetition(results: readonly HarnessResult[], adapter: string, mode: Mode): Map<number, HarnessResult> {
  const map = new Map<number, HarnessResult>();
  for (const result of results) if (result.adapter === adapter && result.mode === mode && succeeded(result)) map.set(result.rep ?? 1, result);
  return map;
}

/**
 * The median over repetitions of numerator ÷ denominator, each pair taken from the same repetition. Run-to-run
 * noise on a shared machine is large, and both sides of a same-repetition pair see about the same load.
 */
export function pairedRatio(results: readonly HarnessResult[], mode: Mode, numerator: string, denominator: string, metric: Metric): number {
  const top = byRepetition(results, numerator, mode);
  const bottom = byRepetition(results, denominator, mode);
  const ratios: number[] = [];
  for (const [rep, result] of top) {
    const base = bottom.get(rep)?.[metric];
    const value = result[metric];
    if (typeof value === 'number' && typeof base === 'number' && base > 0) ratios.push(value / base);
  }
  return median(ratios);
}

/** Like pairedRatio, for the difference numerator − denominator. */
export function pairedDelta(results: readonly HarnessResult[], mode: Mode, numerator: string, denominator: string, metric: Metric): number {
  const top = byRepetition(results, numerator, mode);
  const bottom = byRepetition(results, denominator, mode);
  const deltas: number[] = [];
  for (const [rep, result] of top) {
    const base = bottom.get(rep)?.[metric];
    const value = result[metric];
    if (typeof value === 'number' && typeof base === 'number') deltas.push(value - base);
  }
  return median(deltas);
}

export function medianOf(results: readonly HarnessResult[], adapter: string, mode: Mode, metric: Metric): number {
  return median([...byRepetition(results, adapter, mode).values()].map((result) => result[metric] ?? Number.NaN));
}

export function measuredCount(results: readonly HarnessResult[], adapter: string, mode: Mode): number {
  return byRepetition(results, adapter, mode).size;
}

/** Adapter names in the preferred order first, then the rest in order of appearance. */
export function adapterOrder(results: readonly HarnessResult[], preferred: readonly string[] = []): string[] {
  const seen = [...new Set(results.map((result) => result.adapter))];
  return [...preferred.filter((name) => seen.includes(name)), ...seen.filter((name) => !preferred.includes(name))];
}

export function fixed(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a';
}

function signed(value: number, digits: number): string {
  return Number.isFinite(value) ? `${value >= 0 ? '+' : '−'}${fixed(Math.abs(value), digits)}` : 'n/a';
}

const bold = (name: string): string => (name === baselineAdapter ? `**${name} (baseline)**` : name);

export function sequentialTable(results: readonly HarnessResult[], order: readonly string[]): string {
  const lines = [
    '| adapter | n | ms/turn (wall) | × raw-fetch | +ms/turn over raw-fetch | client CPU ms/turn | × raw (CPU) | total ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const name of order) {
    const count = measuredCount(results, name, 'seq');
    if (count === 0) continue;
    const cells = [
      bold(name), String(count),
      fixed(medianOf(results, name, 'seq', 'msPerTurn'), 3),
      fixed(pairedRatio(results, 'seq', name, baselineAdapter, 'msPerTurn')),
      signed(pairedDelta(results, 'seq', name, baselineAdapter, 'msPerTurn'), 3),
      fixed(medianOf(results, name, 'seq', 'clientCpuMsPerTurn'), 3),
      fixed(pairedRatio(results, 'seq', name, baselineAdapter, 'clientCpuMsPerTurn')),
      fixed(medianOf(results, name, 'seq', 'totalMs'), 0),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

export function concurrentTable(results: readonly HarnessResult[], order: readonly string[]): string {
  const lines = [
    '| adapter | n | wall ms | × raw-fetch | peak RSS MB | × raw | ELD p99 ms | × raw | client CPU ms/turn | session p50/p99 ms | heap held per session KB |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const name of order) {
    const count = measuredCount(results, name, 'conc');
    if (count === 0) continue;
    const value = (metric: Metric, digits: number) => fixed(medianOf(results, name, 'conc', metric), digits);
    const ratio = (metric: Metric) => fixed(pairedRatio(results, 'conc', name, baselineAdapter, metric));
    const cells = [
      bold(name), String(count),
      value('totalMs', 0), ratio('totalMs'),
      value('peakRssMB', 0), ratio('peakRssMB'),
      value('eldP99Ms', 0), ratio('eldP99Ms'),
      value('clientCpuMsPerTurn', 3),
      `${value('sessionP50Ms', 0)}/${value('sessionP99Ms', 0)}`,
      value('retainedHeapKBPerSession', 1),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** A Keel adapter ÷ each peer's main adapter, same-repetition pairs; below 1.00 means Keel used less. */
export function keelVersusPeersTable(results: readonly HarnessResult[], keelAdapter: string, peers: readonly string[] = peerMainAdapters): string {
  const lines = [
    `| ${keelAdapter} ÷ peer | seq client CPU ms/turn | seq wall ms/turn | conc wall | conc peak RSS | conc ELD p99 |`,
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const peer of peers) {
    if (measuredCount(results, peer, 'seq') + measuredCount(results, peer, 'conc') === 0) continue;
    const cells = [
      peer,
      fixed(pairedRatio(results, 'seq', keelAdapter, peer, 'clientCpuMsPerTurn')),
      fixed(pairedRatio(results, 'seq', keelAdapter, peer, 'msPerTurn')),
      fixed(pairedRatio(results, 'conc', keelAdapter, peer, 'totalMs')),
      fixed(pairedRatio(results, 'conc', keelAdapter, peer, 'peakRssMB')),
      fixed(pairedRatio(results, 'conc', keelAdapter, peer, 'eldP99Ms')),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

export type TargetStatus = 'MET' | 'NOT MET' | 'NOT MEASURED';

export interface TargetCheck {
  readonly target: string;
  /** What was measured, for the table: the ratio or value and what it is made of. */
  readonly measured: string;
  readonly status: TargetStatus;
}

function judge(value: number, limit: number): TargetStatus {
  if (!Number.isFinite(value)) return 'NOT MEASURED';
  return value <= limit ? 'MET' : 'NOT MET';
}

function ratioCheck(results: readonly HarnessResult[], target: string, mode: Mode, numerator: string, denominator: string, metric: Metric, limit: number, digits: number): TargetCheck {
  const ratio = pairedRatio(results, mode, numerator, denominator, metric);
  const top = medianOf(results, numerator, mode, metric);
  const bottom = medianOf(results, denominator, mode, metric);
  return { target, measured: `${fixed(ratio)}× (median ${fixed(top, digits)} vs ${fixed(bottom, digits)})`, status: judge(ratio, limit) };
}

/** The performance targets for Keel with its durable journal, judged on same-repetition ratios. */
export function checkTargets(results: readonly HarnessResult[]): TargetCheck[] {
  const rss = medianOf(results, keelSqlite, 'conc', 'peakRssMB');
  // Peak RSS grows with the number of sessions at once, and the limit is set for the baseline's 1,000.
  const concSessions = results.find((result) => result.adapter === keelSqlite && result.mode === 'conc' && succeeded(result))?.sessions;
  const rssCheck: TargetCheck = concSessions === undefined || concSessions === rssTargetSessions
    ? { target: `keel-sqlite conc peak RSS ≤ ${rssLimitMB} MB`, measured: `${fixed(rss, 0)} MB (median)`, status: judge(rss, rssLimitMB) }
    : { target: `keel-sqlite conc peak RSS ≤ ${rssLimitMB} MB`, measured: `${fixed(rss, 0)} MB at ${concSessions} sessions; the limit is for ${rssTargetSessions.toLocaleString('en-US')}`, status: 'NOT MEASURED' };
  return [
    ratioCheck(results, 'keel-sqlite seq client CPU ms/turn ≤ raw-fetch', 'seq', keelSqlite, baselineAdapter, 'clientCpuMsPerTurn', 1, 3),
    ratioCheck(results, `keel-sqlite seq wall ms/turn ≤ ${sequentialWallAllowance}× raw-fetch`, 'seq', keelSqlite, baselineAdapter, 'msPerTurn', sequentialWallAllowance, 3),
    ratioCheck(results, 'keel-sqlite conc wall ≤ raw-fetch', 'conc', keelSqlite, baselineAdapter, 'totalMs', 1, 0),
    rssCheck,
    ratioCheck(results, 'keel-sqlite conc ELD p99 ≤ raw-fetch', 'conc', keelSqlite, baselineAdapter, 'eldP99Ms', 1, 0),
    ratioCheck(results, `keel-sqlite-stream seq client CPU ms/turn ≤ ${streamingAllowance}× keel-sqlite`, 'seq', keelSqliteStream, keelSqlite, 'clientCpuMsPerTurn', streamingAllowance, 3),
    ratioCheck(results, `keel-sqlite-stream conc wall ≤ ${streamingAllowance}× keel-sqlite`, 'conc', keelSqliteStream, keelSqlite, 'totalMs', streamingAllowance, 0),
  ];
}

export function targetTable(checks: readonly TargetCheck[]): string {
  return ['| target | measured | status |', '|---|---|---|', ...checks.map((check) => `| ${check.target} | ${check.measured} | **${check.status}** |`)].join('\n');
}

/**
 * The gist of a failed measurement's error: run-all keeps the last 800 characters of the process's stderr, a stack
 * trace cut anywhere, so the "SomethingError: message" lines are what says what went wrong.
 */
export function errorGist(error: string): string {
  const messages = [...new Set([...error.matchAll(/\b(\w*Error): ([^\n]+)/g)].map((match) => `${match[1]}: ${match[2]?.trim()}`))];
  const gist = messages.length > 0 ? messages.join(' / ') : error.replace(/\s+/g, ' ').trim();
  return gist.length > 300 ? `${gist.slice(0, 300)}…` : gist;
}

/** Every failed measurement, one line each, so a broken peer cannot hide behind the medians. */
export function failedMeasurements(results: readonly HarnessResult[]): string[] {
  return results.filter((result) => !succeeded(result)).map((result) => `rep ${result.rep ?? '?'} ${result.mode} ${result.adapter}: ${errorGist(String(result.error))}`);
}

/** Package versions per adapter, from the last line that reported them. */
export function versionLines(results: readonly HarnessResult[]): string[] {
  const versions = new Map<string, Readonly<Record<string, string>>>();
  for (const result of results) if (result.versions !== undefined) versions.set(result.adapter, result.versions);
  return [...versions].map(([adapter, packages]) => `- ${adapter}: ${Object.entries(packages).map(([name, version]) => `${name}@${version}`).join(', ')}`);
}

/** The journal footprint Keel's harness adapter prints at teardown (see keel-harness-adapter.mjs), per mode. */
export function journalFootprints(results: readonly HarnessResult[], adapter: string): string[] {
  const lines: string[] = [];
  for (const mode of ['seq', 'conc'] as const) {
    const footprints = results
      .filter((result) => result.adapter === adapter && result.mode === mode && succeeded(result))
      .map((result) => /keel journal (\{.*\})/.exec(result.stderrTail ?? '')?.[1])
      .filter((json): json is string => json !== undefined)
      .map((json) => JSON.parse(json) as Record<string, number>);
    if (footprints.length === 0) continue;
    const value = (key: string) => median(footprints.map((footprint) => footprint[key] ?? Number.NaN));
    lines.push(`- ${adapter} ${mode}: ${fixed(value('eventsPerSession'), 1)} events and ${fixed(value('blobsPerSession'), 1)} blobs per session; journal file ${fixed(value('journalKBPerSession'), 1)} KB per session (median of ${footprints.length})`);
  }
  return lines;
}
