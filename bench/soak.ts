// The soak test of issue 6: a fixed number of mixed sessions kept in flight for a long time in one process, through
// the public API, against the mock providers and a SQLite journal. Every few seconds it samples heap (after a full
// GC), RSS, open descriptors and event-loop delay; at the end it fits a line to each after the warm-up and says
// FLAT or GROWING, and checks that every session ended as its kind must. Opt-in, not part of CI.
//
//   node --expose-gc --import tsx bench/soak.ts [--minutes 30] [--concurrency 20] [--sample-seconds 10] [--out file.jsonl]
//        [--latency-ms 60] [--fault-rate 0.02] [--seed 1] [--keep] [--heap-snapshots] [--no-deadline]
//
// --heap-snapshots writes a V8 heap snapshot when the warm-up ends and one when the load ends, beside the samples,
// for bench/soak/heap-diff.ts; writing them stalls the process for seconds, so such a run's delay figures mean little.
// --no-deadline runs the agents without a session deadline, which sidesteps the per-model-call signal leak that a
// deadline causes today (bench/soak/README.md), so that the rest of the runtime can be judged on its own.
//
// Exits 1 when a metric grows, a session misbehaved, or the journal or audit log does not verify.
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { writeHeapSnapshot } from 'node:v8';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createKeel } from '../src/index.ts';
import { startMockAnthropicServer, startMockOpenAIServer } from '../src/testing/index.ts';
import { analyzeSoak, defaultThresholds, warmUpSeconds } from './soak/analysis.ts';
import type { Point } from './soak/analysis.ts';
import { formatSamples, formatVerdicts, SessionTally } from './soak/report.ts';
import { collectGarbage, describeFileDescriptors, openFileDescriptors, startSampler } from './soak/sampler.ts';
import type { SoakSample } from './soak/sampler.ts';
import { anthropicReply, kindWeights, openAIReply, scriptFor, sessionKinds, soakAgents } from './soak/scenarios.ts';
import type { FaultCounts, SessionKind, ToolEffects } from './soak/scenarios.ts';
import { createCrashKeel, runSoakSession } from './soak/sessions.ts';
import { seededRandom } from '../test/suites/crash-suite-runner.ts';
import type { SessionDriver } from './soak/sessions.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    concurrency: { type: 'string', default: '20' },
    'sample-seconds': { type: 'string', default: '10' },
    out: { type: 'string' },
    'latency-ms': { type: 'string', default: '60' },
    'fault-rate': { type: 'string', default: '0.02' },
    seed: { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
    'heap-snapshots': { type: 'boolean', default: false },
    'no-deadline': { type: 'boolean', default: false },
  },
});

const positive = (name: string, text: string, integer: boolean): number => {
  const value = Number(text);
  if (!(value > 0) || (integer && !Number.isInteger(value))) throw new Error(`--${name} must be a positive ${integer ? 'integer' : 'number'}, got ${text}`);
  return value;
};
const minutes = positive('minutes', values.minutes, false);
const concurrency = positive('concurrency', values.concurrency, true);
const sampleSeconds = positive('sample-seconds', values['sample-seconds'], false);
const latencyMs = Number(values['latency-ms']);
const faultRate = Number(values['fault-rate']);
if (!(latencyMs >= 0)) throw new Error(`--latency-ms must be 0 or more, got ${values['latency-ms']}`);
if (!(faultRate >= 0 && faultRate < 0.5)) throw new Error(`--fault-rate must be in [0, 0.5), got ${values['fault-rate']}`);

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const outPath = values.out ?? join(dirname(fileURLToPath(import.meta.url)), 'results', `soak-${stamp}.jsonl`);
mkdirSync(dirname(outPath), { recursive: true });
const record = (line: unknown): void => appendFileSync(outPath, `${JSON.stringify(line)}\n`);

const random = seededRandom(Number(values.seed));
const weightTotal = sessionKinds.reduce((sum, kind) => sum + kindWeights[kind], 0);
const pickKind = (): SessionKind => {
  let roll = random() * weightTotal;
  for (const kind of sessionKinds) {
    roll -= kindWeights[kind];
    if (roll < 0) return kind;
  }
  return 'plain';
};

const fileDescriptorsAtStart = openFileDescriptors();
const descriptorKindsAtStart = describeFileDescriptors();
const scratch = mkdtempSync(join(tmpdir(), 'keel-soak-'));
const databasePath = join(scratch, 'keel.db');
const faults: FaultCounts = { rateLimited: 0, serverErrors: 0, unrecognised: 0 };
const scriptOptions = { latencyMs, faultRate, random };
const anthropic = await startMockAnthropicServer({ script: scriptFor(anthropicReply, scriptOptions, faults) });
const openai = await startMockOpenAIServer({ script: scriptFor(openAIReply, scriptOptions, faults) });
// The mocks record every request for tests to inspect; a soak must not let that list grow for half an hour.
const trimRecordedRequests = setInterval(() => {
  anthropic.requests.length = 0;
  openai.requests.length = 0;
}, 1000);

const env = { ANTHROPIC_API_KEY: 'soak-key', ANTHROPIC_BASE_URL: anthropic.baseURL, OPENAI_API_KEY: 'soak-key', OPENAI_BASE_URL: openai.baseURL };
const keelOptions = { env, cwd: scratch, modelRetries: 4 };
const keel = createKeel({ ...keelOptions, database: databasePath });
const effects: ToolEffects = { refunds: new Map() };
const driver: SessionDriver = { keel, crashKeel: createCrashKeel(keel, keelOptions), agents: soakAgents(effects, { deadline: !values['no-deadline'] }), effects, random, watchdogMs: 90_000 };

record({ type: 'config', deadline: !values['no-deadline'], minutes, concurrency, sampleSeconds, latencyMs, faultRate, seed: Number(values.seed), node: process.version, cores: cpus().length, loadAverage: loadavg(), startedAt: new Date().toISOString(), thresholds: defaultThresholds });
console.error(`Soak: ${minutes} min, ${concurrency} sessions in flight, sample every ${sampleSeconds} s, latency ~${latencyMs} ms, fault rate ${faultRate}${values['no-deadline'] ? ', agents without a deadline' : ''}; journal ${databasePath}; samples to ${outPath}`);

const tally = new SessionTally();
const samples: SoakSample[] = [];
let windowCompleted = 0;
let windowFailed = 0;
let faultsSeen = 0;
let inFlight = 0;
const faultsSoFar = (): number => faults.rateLimited + faults.serverErrors;
const sampler = startSampler({
  everySeconds: sampleSeconds,
  journalFiles: [databasePath, `${databasePath}-wal`],
  takeWindow: () => {
    const counts = { completed: windowCompleted, failedUnexpectedly: windowFailed, inFlight, faultsInjected: faultsSoFar() - faultsSeen };
    windowCompleted = 0;
    windowFailed = 0;
    faultsSeen = faultsSoFar();
    return counts;
  },
  onSample: (sample) => {
    samples.push(sample);
    record({ type: 'sample', ...sample });
    console.error(
      `[${(sample.elapsedSeconds / 60).toFixed(1)} min] heap ${sample.heapUsedMegabytes.toFixed(1)} MB, RSS ${sample.rssMegabytes.toFixed(1)} MB, fds ${sample.openFileDescriptors}, ELD p99 ${sample.eventLoopDelayP99Ms.toFixed(1)} ms, done ${sample.sessionsCompleted}, bad ${sample.sessionsFailedUnexpectedly}, CPU ${sample.cpuPercent.toFixed(0)} %, journal ${sample.journalMegabytes.toFixed(0)} MB, load ${sample.loadAverage.toFixed(1)}`,
    );
  },
});

let deadline = performance.now() + minutes * 60_000;
process.once('SIGINT', () => {
  console.error('SIGINT: finishing the sessions in flight, then reporting.');
  deadline = 0;
});
let sessionNumber = 0;
async function worker(index: number): Promise<void> {
  // Staggered, so the sessions do not all ask the model at the same instant forever after.
  await new Promise((resolve) => setTimeout(resolve, index * 25));
  while (performance.now() < deadline) {
    sessionNumber += 1;
    const number = sessionNumber;
    inFlight += 1;
    const outcome = await runSoakSession(driver, pickKind(), number, number % 2 === 0 ? 'anthropic' : 'openai', Math.floor(number / 2) % 2 === 0);
    inFlight -= 1;
    tally.record(outcome);
    if (outcome.ok) windowCompleted += 1;
    else {
      windowFailed += 1;
      if (tally.misbehaved <= 20) console.error(`MISBEHAVED ${outcome.sessionId} (${outcome.kind} ${outcome.provider}): ${outcome.problems.join(' | ')}`);
    }
  }
}
const snapshot = (label: string): void => {
  const path = writeHeapSnapshot(outPath.replace(/\.jsonl$/, `-${label}.heapsnapshot`));
  console.error(`heap snapshot (${label}): ${path}, after ${sessionNumber} sessions`);
  record({ type: 'heap-snapshot', label, path, sessionsStarted: sessionNumber });
};
const snapshotTimer = values['heap-snapshots'] ? setTimeout(() => snapshot('after-warm-up'), warmUpSeconds(minutes * 60) * 1000) : undefined;
const runStarted = performance.now();
await Promise.all(Array.from({ length: concurrency }, (_, index) => worker(index)));
sampler.stop();
clearTimeout(snapshotTimer);
if (values['heap-snapshots']) snapshot('end');
const loadSeconds = (performance.now() - runStarted) / 1000;

// What must hold once everything has ended: no session left open, the audit chain intact.
const openSessions = await keel.sessions({ status: 'open' });
const audit = await keel.audit.verify();
await driver.crashKeel.close();
await keel.close();
clearInterval(trimRecordedRequests);
await anthropic.close();
await openai.close();
collectGarbage();
// Sockets the servers closed wind down over a few ticks; give them a moment before counting what is left.
await new Promise((resolve) => setTimeout(resolve, 500));
const fileDescriptorsAtEnd = openFileDescriptors();
const descriptorsLeft = [...describeFileDescriptors()]
  .map(([target, count]) => [target, count - (descriptorKindsAtStart.get(target) ?? 0)] as const)
  .filter(([, extra]) => extra > 0)
  .map(([target, extra]) => `${target} +${extra}`);

const durationSeconds = samples.at(-1)?.elapsedSeconds ?? loadSeconds;
const points = (pick: (sample: SoakSample) => number): Point[] => samples.map((sample) => ({ seconds: sample.elapsedSeconds, value: pick(sample) }));
const analysis = analyzeSoak(
  {
    heapUsedMegabytes: points((sample) => sample.heapUsedMegabytes),
    rssMegabytes: points((sample) => sample.rssMegabytes),
    openFileDescriptors: points((sample) => sample.openFileDescriptors),
    eventLoopDelayP99Ms: points((sample) => sample.eventLoopDelayP99Ms),
  },
  durationSeconds,
);

console.log(`\nSoak: ${(loadSeconds / 60).toFixed(1)} min under load, ${concurrency} in flight, Node ${process.version}, ${cpus().length} cores, load average now ${loadavg().map((value) => value.toFixed(1)).join(' ')}\n`);
console.log(formatSamples(samples, analysis.warmUpSeconds));
console.log(`\nVerdicts on ${analysis.samplesJudged} samples after a ${Math.round(analysis.warmUpSeconds)} s warm-up:\n`);
console.log(formatVerdicts(analysis));
console.log(`\nSessions (${tally.total}, ${(tally.total / loadSeconds).toFixed(1)}/s; faults injected: ${faults.rateLimited} × 429, ${faults.serverErrors} × 500):\n`);
console.log(tally.format());
const problems: string[] = [];
if (tally.misbehaved > 0) problems.push(`${tally.misbehaved} sessions misbehaved`);
if (openSessions.length > 0) problems.push(`${openSessions.length} sessions left open: ${openSessions.slice(0, 5).map((session) => session.sessionId).join(', ')}`);
if (!audit.ok) problems.push(`the audit log does not verify: ${JSON.stringify(audit).slice(0, 300)}`);
if (faults.unrecognised > 0) problems.push(`${faults.unrecognised} model requests carried no soak task`);
if (!analysis.flat) problems.push(`growing or unknown: ${analysis.verdicts.filter((verdict) => verdict.verdict !== 'FLAT').map((verdict) => verdict.metric).join(', ')}`);
for (const example of tally.examples) console.log(`- ${example.sessionId} (${example.kind} ${example.provider} ${example.streaming ? 'stream' : 'plain'}): ${example.problems.join(' | ')}`);
console.log(`\nOpen descriptors: ${fileDescriptorsAtStart} at start, ${fileDescriptorsAtEnd} after everything closed${descriptorsLeft.length > 0 ? ` (more than at start: ${descriptorsLeft.join(', ')})` : ''}. Journal ${samples.at(-1)?.journalMegabytes.toFixed(0) ?? '?'} MB. Samples: ${outPath}`);
console.log(`\n${problems.length === 0 ? 'PASS' : 'FAIL'}: ${problems.length === 0 ? 'heap, RSS, descriptors and event-loop delay flat; every session ended as its kind must' : problems.join('; ')}.`);
record({ type: 'summary', loadSeconds, sessions: tally.total, misbehaved: tally.misbehaved, openSessions: openSessions.length, auditOk: audit.ok, faults, fileDescriptorsAtStart, fileDescriptorsAtEnd, descriptorsLeft, analysis, passed: problems.length === 0, problems });
if (!values.keep) rmSync(scratch, { recursive: true, force: true });
else console.log(`Kept ${scratch}`);
process.exitCode = problems.length === 0 ? 0 : 1;
