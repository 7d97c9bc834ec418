// One measurement in a fresh process; bench/turn-overhead.ts starts one of these per adapter and mode.
//
//   node --expose-gc --import tsx bench/measure.ts <adapter> <seq|conc> <mock URL> [sessions] [warm-up sessions]
//
// The mock URL is the root of a running bench/workload-mock.ts (http://127.0.0.1:<port>, with or without /v1).
//   seq   warm-up sessions one after another (default 30), then `sessions` (default 200) one after another,
//         against a mock without latency: wall ms per turn and the client's CPU ms per turn (process.cpuUsage).
//   conc  warm-up sessions at once (default 50), then `sessions` (default 1,000) at once with Promise.all,
//         against a mock with latency: wall time, peak RSS, event-loop lag and heap still held per session after GC.
// After each phase the mock's counters must match the workload exactly (requests, finals, streamed requests,
// no cut tool results, no extra turns); a mismatch is reported in `error`.
// Prints one line "RESULT <json>"; exits 1 when the measurement failed.
// With BENCH_CPU_PROFILE=<file.cpuprofile> it also records a V8 CPU profile of the measured phase alone (no module
// loading, no warm-up), through node:inspector; the figures of such a run are inflated by the profiler.
// A conc measurement also reports `memoryAtPeak`: the V8 heap (used, committed per space), external buffers and, on
// Linux, anonymous against file-backed memory at the highest RSS sampled (bench/lib/memory-probe.ts). Heap snapshots
// and sampling heap profiles of the measured phase: BENCH_HEAP_SNAPSHOT / BENCH_HEAP_PROFILE (bench/lib/heap-capture.ts).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { adapterLoaders, adapterNames, isAdapterName } from './adapters/index.ts';
import type { BenchAdapter } from './adapters/types.ts';
import { startHeapCapture } from './lib/heap-capture.ts';
import { memoryBreakdown, startPeakBreakdown } from './lib/memory-probe.ts';
import type { MemoryBreakdown } from './lib/memory-probe.ts';
import { turnsPerSession } from './adapters/workload.ts';
import type { MockStatsReport } from './workload-mock.ts';

export type Mode = 'seq' | 'conc';

/** What one measurement reports; turn-overhead.ts reads it back from the RESULT line. */
export interface MeasureResult {
  readonly adapter: string;
  readonly description?: string;
  readonly mode: Mode;
  readonly sessions: number;
  readonly turns: number;
  readonly warmup: number;
  readonly versions?: Readonly<Record<string, string>>;
  readonly totalMs?: number;
  readonly msPerTurn?: number;
  readonly clientCpuMs?: number;
  readonly clientCpuMsPerTurn?: number;
  readonly mockCpuMsPerTurn?: number;
  readonly peakRssMB?: number;
  readonly rssBeforeMB?: number;
  readonly peakHeapMB?: number;
  readonly eldP50Ms?: number;
  readonly eldP99Ms?: number;
  readonly eldMaxMs?: number;
  readonly sessionP50Ms?: number;
  readonly sessionP99Ms?: number;
  readonly retainedHeapKBPerSession?: number;
  readonly memoryBefore?: MemoryBreakdown;
  readonly memoryAtPeak?: MemoryBreakdown;
  readonly heapCaptures?: readonly string[];
  readonly extra?: Readonly<Record<string, number | string>>;
  readonly error: string | null;
}

const usage = `usage: node --expose-gc --import tsx bench/measure.ts <${adapterNames.join('|')}> <seq|conc> <mock URL> [sessions] [warm-up]`;

function positiveInteger(text: string | undefined, fallback: number, what: string): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${what} must be a non-negative integer, got "${text}".\n${usage}`);
  return value;
}

const gc = (globalThis as { gc?: () => void }).gc;
function fullGc(): void {
  gc?.();
  gc?.();
}

const cpuMs = (usage: NodeJS.CpuUsage): number => (usage.user + usage.system) / 1000;
const mebibytes = (bytes: number): number => bytes / 2 ** 20;

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function mockStats(root: string): Promise<MockStatsReport> {
  const response = await fetch(`${root}/stats`);
  if (!response.ok) throw new Error(`mock /stats answered HTTP ${response.status}`);
  return (await response.json()) as MockStatsReport;
}

async function resetMock(root: string): Promise<void> {
  const response = await fetch(`${root}/reset`, { method: 'POST' });
  await response.text();
  if (!response.ok) throw new Error(`mock /reset answered HTTP ${response.status}`);
}

/** Compares the mock's counters with what `sessions` complete sessions must have caused; null when they match. */
function checkStats(phase: string, stats: MockStatsReport, sessions: number, streaming: boolean): string | null {
  const requests = sessions * turnsPerSession;
  const expected: Partial<Record<keyof MockStatsReport, number>> = {
    requests,
    finals: sessions,
    toolCalls: sessions * (turnsPerSession - 1),
    stream: streaming ? requests : 0,
    badToolResults: 0,
    overTurns: 0,
    errors: 0,
  };
  const wrong = Object.entries(expected).filter(([key, value]) => stats[key as keyof MockStatsReport] !== value);
  if (wrong.length === 0) return null;
  return `${phase}: mock stats mismatch: ${wrong.map(([key, value]) => `${key}=${String(stats[key as keyof MockStatsReport])} (want ${value})`).join(', ')}`;
}

/** Profiles the measured phase when BENCH_CPU_PROFILE names a file; returns the function that stops and writes it. */
async function startProfiler(): Promise<() => Promise<void>> {
  const file = process.env.BENCH_CPU_PROFILE;
  if (file === undefined || file === '') return async () => undefined;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 250 });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}

async function runSequential(adapter: BenchAdapter, baseURL: string, count: number): Promise<void> {
  for (let index = 0; index < count; index += 1) await adapter.runSession(baseURL);
}

async function runConcurrent(adapter: BenchAdapter, baseURL: string, count: number, durations?: number[], sessionEnded?: () => void): Promise<void> {
  await Promise.all(
    Array.from({ length: count }, async () => {
      const started = performance.now();
      await adapter.runSession(baseURL);
      durations?.push(performance.now() - started);
      sessionEnded?.();
    }),
  );
}

async function measure(adapter: BenchAdapter, mode: Mode, root: string, sessions: number, warmup: number): Promise<MeasureResult> {
  const baseURL = `${root}/v1`;
  const base = {
    adapter: adapter.name,
    description: adapter.description,
    mode,
    sessions,
    turns: turnsPerSession,
    warmup,
    versions: adapter.versions?.() ?? {},
  };
  await adapter.setup?.(baseURL);

  // Warm-up, in the same shape as the measurement, so that module loading and JIT stay out of it.
  await resetMock(root);
  if (mode === 'seq') await runSequential(adapter, baseURL, warmup);
  else await runConcurrent(adapter, baseURL, warmup);
  const warmupError = checkStats('warm-up', await mockStats(root), warmup, adapter.streaming);
  if (warmupError !== null) return { ...base, error: warmupError };

  fullGc();
  await resetMock(root);
  const mockBefore = await mockStats(root);
  const memoryBefore = process.memoryUsage();
  const totalTurns = sessions * turnsPerSession;

  const stopProfiler = await startProfiler();
  if (mode === 'seq') {
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    await runSequential(adapter, baseURL, sessions);
    const totalMs = performance.now() - started;
    const clientCpuMs = cpuMs(process.cpuUsage(cpuBefore));
    await stopProfiler();
    const stats = await mockStats(root);
    const extra = (await adapter.report?.()) ?? {};
    return {
      ...base,
      totalMs,
      msPerTurn: totalMs / totalTurns,
      clientCpuMs,
      clientCpuMsPerTurn: clientCpuMs / totalTurns,
      mockCpuMsPerTurn: (stats.cpuMs - mockBefore.cpuMs) / totalTurns,
      extra,
      error: checkStats('measured', stats, sessions, adapter.streaming),
    };
  }

  let peakRss = 0;
  let peakHeap = 0;
  const sample = (): void => {
    const memory = process.memoryUsage();
    peakRss = Math.max(peakRss, memory.rss);
    peakHeap = Math.max(peakHeap, memory.heapUsed);
  };
  const sampler = setInterval(sample, 10);
  const resolutionMs = 10;
  const delay = monitorEventLoopDelay({ resolution: resolutionMs });
  delay.enable();
  const durations: number[] = [];
  const breakdownBefore = memoryBreakdown();
  const peakBreakdown = startPeakBreakdown();
  const heapCapture = await startHeapCapture();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await runConcurrent(adapter, baseURL, sessions, durations, heapCapture.sessionEnded);
  const totalMs = performance.now() - started;
  const clientCpuMs = cpuMs(process.cpuUsage(cpuBefore));
  await stopProfiler();
  delay.disable();
  clearInterval(sampler);
  sample();
  const memoryAtPeak = peakBreakdown.stop();
  const heapCaptures = await heapCapture.finish();
  const stats = await mockStats(root);
  // The histogram records whole timer intervals; the lag is what exceeds the 10 ms resolution.
  const lag = (nanoseconds: number): number => Math.max(0, nanoseconds / 1e6 - resolutionMs);
  fullGc();
  const memoryAfter = process.memoryUsage();
  const extra = (await adapter.report?.()) ?? {};
  return {
    ...base,
    totalMs,
    clientCpuMs,
    clientCpuMsPerTurn: clientCpuMs / totalTurns,
    mockCpuMsPerTurn: (stats.cpuMs - mockBefore.cpuMs) / totalTurns,
    peakRssMB: mebibytes(peakRss),
    rssBeforeMB: mebibytes(memoryBefore.rss),
    peakHeapMB: mebibytes(peakHeap),
    eldP50Ms: lag(delay.percentile(50)),
    eldP99Ms: lag(delay.percentile(99)),
    eldMaxMs: lag(delay.max),
    sessionP50Ms: percentile(durations, 50),
    sessionP99Ms: percentile(durations, 99),
    retainedHeapKBPerSession: (memoryAfter.heapUsed - memoryBefore.heapUsed) / 1024 / sessions,
    memoryBefore: breakdownBefore,
    ...(memoryAtPeak === undefined ? {} : { memoryAtPeak }),
    ...(heapCaptures.length === 0 ? {} : { heapCaptures }),
    extra,
    error: checkStats('measured', stats, sessions, adapter.streaming),
  };
}

async function main(): Promise<number> {
  const [name, mode, url, sessionsText, warmupText] = process.argv.slice(2);
  if (name === undefined || !isAdapterName(name) || (mode !== 'seq' && mode !== 'conc') || url === undefined) {
    console.error(usage);
    return 2;
  }
  const sessions = positiveInteger(sessionsText, mode === 'seq' ? 200 : 1000, 'sessions');
  const warmup = positiveInteger(warmupText, mode === 'seq' ? 30 : 50, 'warm-up sessions');
  const root = url.replace(/\/+$/, '').replace(/\/v1$/, '');
  if (gc === undefined) console.error('measure: run with --expose-gc; heap figures are taken without a forced GC.');
  const failed = (error: unknown): MeasureResult => ({
    adapter: name,
    mode,
    sessions,
    turns: turnsPerSession,
    warmup,
    error: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  let result: MeasureResult;
  let adapter: BenchAdapter | undefined;
  try {
    adapter = await adapterLoaders[name]();
    result = await measure(adapter, mode, root, sessions, warmup);
  } catch (error) {
    result = failed(error);
  }
  try {
    // Also after a failure: the journal's temporary folder must not stay behind.
    await adapter?.teardown?.();
  } catch (error) {
    if (result.error === null) result = failed(error);
  }
  console.log(`RESULT ${JSON.stringify(result)}`);
  return result.error === null ? 0 : 1;
}

// Exit explicitly: keep-alive sockets and the journal's handles must not keep the process alive.
process.exit(await main());
