// One measurement, in a fresh process:
//   node --expose-gc harness/bench.mjs <adapter.mjs> <seq|conc> <mock base URL> [sessions] [warm-up sessions]
// The adapter exports runSession(baseURL): Promise<void>, and optionally name, versions(), setup(), teardown().
// seq runs sessions one after another (client CPU and wall per turn); conc runs them all at once with
// Promise.all (wall, peak memory, event-loop lag, session latency). Prints one line "RESULT <json>"; the mock's
// counters must match the workload exactly, or the result carries an error.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [adapterPath, mode, baseURL, sessionsArgument, warmupArgument] = process.argv.slice(2);
if (adapterPath === undefined || (mode !== 'seq' && mode !== 'conc') || baseURL === undefined) {
  console.error('usage: node --expose-gc harness/bench.mjs <adapter.mjs> <seq|conc> <mock base URL> [sessions] [warm-up]');
  process.exit(2);
}
const turns = Number(process.env.MOCK_TURNS ?? 10);
const sessions = Number(sessionsArgument ?? (mode === 'seq' ? 200 : 1000));
const warmup = Number(warmupArgument ?? (mode === 'seq' ? 30 : 50));
const mockRoot = baseURL.replace(/\/v1\/?$/, '');
/** monitorEventLoopDelay's resolution; a sample includes the full interval, so it is subtracted to give the lag. */
const delayResolutionMs = 10;

const collectGarbage = () => {
  globalThis.gc?.();
  globalThis.gc?.();
};
const mockStats = async () => (await fetch(`${mockRoot}/stats`)).json();
const resetMock = async () => (await fetch(`${mockRoot}/reset`, { method: 'POST' })).text();
const cpuMs = (usage) => (usage.user + usage.system) / 1000;
const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};

/** The mock saw exactly the workload: every session its turns, one final answer each, nothing extra. */
function workloadError(stats, count) {
  const expected = { requests: count * turns, finals: count, badToolResults: 0, overTurns: 0, errors: 0 };
  const wrong = Object.entries(expected).filter(([key, value]) => stats[key] !== value);
  return wrong.length === 0 ? null : `mock stats mismatch: ${wrong.map(([key, value]) => `${key}=${stats[key]} (want ${value})`).join(', ')}`;
}

async function runAll(count) {
  if (mode === 'seq') {
    for (let index = 0; index < count; index += 1) await adapter.runSession(baseURL);
    return [];
  }
  const durations = [];
  await Promise.all(Array.from({ length: count }, async () => {
    const started = performance.now();
    await adapter.runSession(baseURL);
    durations.push(performance.now() - started);
  }));
  return durations;
}

async function measureSequential() {
  const mockBefore = await mockStats();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await runAll(sessions);
  const wall = performance.now() - started;
  const cpu = cpuMs(process.cpuUsage(cpuBefore));
  const stats = await mockStats();
  const turnCount = sessions * turns;
  return { totalMs: wall, msPerTurn: wall / turnCount, clientCpuMsPerTurn: cpu / turnCount, mockCpuMsPerTurn: (stats.cpuMs - mockBefore.cpuMs) / turnCount, error: workloadError(stats, sessions) };
}

async function measureConcurrent() {
  const mockBefore = await mockStats();
  const memoryBefore = process.memoryUsage();
  let peakRss = 0;
  let peakHeap = 0;
  const sample = () => {
    const memory = process.memoryUsage();
    peakRss = Math.max(peakRss, memory.rss);
    peakHeap = Math.max(peakHeap, memory.heapUsed);
  };
  const sampler = setInterval(sample, 10);
  const delay = monitorEventLoopDelay({ resolution: delayResolutionMs });
  delay.enable();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const durations = await runAll(sessions);
  const wall = performance.now() - started;
  const cpu = cpuMs(process.cpuUsage(cpuBefore));
  delay.disable();
  clearInterval(sampler);
  sample();
  const stats = await mockStats();
  const lag = (nanoseconds) => Math.max(0, nanoseconds / 1e6 - delayResolutionMs);
  collectGarbage();
  const memoryAfter = process.memoryUsage();
  const turnCount = sessions * turns;
  return {
    totalMs: wall, clientCpuMs: cpu, clientCpuMsPerTurn: cpu / turnCount, mockCpuMsPerTurn: (stats.cpuMs - mockBefore.cpuMs) / turnCount,
    peakRssMB: peakRss / 2 ** 20, rssBeforeMB: memoryBefore.rss / 2 ** 20, peakHeapMB: peakHeap / 2 ** 20,
    eldP50Ms: lag(delay.percentile(50)), eldP99Ms: lag(delay.percentile(99)), eldMaxMs: lag(delay.max),
    sessionP50Ms: percentile(durations, 50), sessionP99Ms: percentile(durations, 99),
    retainedHeapKBPerSession: (memoryAfter.heapUsed - memoryBefore.heapUsed) / 1024 / sessions,
    error: workloadError(stats, sessions),
  };
}

const adapter = await import(pathToFileURL(resolve(adapterPath)).href);
await adapter.setup?.();
const result = { adapter: adapter.name ?? basename(adapterPath), mode, sessions, turns, warmup, versions: (await adapter.versions?.()) ?? {} };
// The warm-up has the measurement's shape (one by one, or all at once), so lazy initialisation and JIT are paid
// before the clock starts.
await runAll(warmup);
collectGarbage();
await resetMock();
Object.assign(result, mode === 'seq' ? await measureSequential() : await measureConcurrent());
await adapter.teardown?.();
console.log(`RESULT ${JSON.stringify(result)}`);
process.exit(0);
