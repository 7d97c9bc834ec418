// The crash suite's supervisor: runs test/suites/crash-worker.ts over one SQLite journal, kills it with SIGKILL at
// seeded random points, restarts it until every session has ended, then checks the journal against what the worker
// was told before each death and against the side effects recorded outside the process.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { loadScriptedModel } from '../../src/model/index.ts';
import { createKeel } from '../../src/runtime/index.ts';
import { createSqliteStore, validateJournal } from '../../src/store/index.ts';
import type { SessionEvent } from '../../src/spec/index.ts';
import { crashCustomers, crashExpectedOutput, crashSessionId, crashTask } from './crash-protocol.ts';
import { createBiller, openFarEnd, readFarEnd } from './far-end.ts';

const here = fileURLToPath(new URL('.', import.meta.url));
// `--import tsx` resolves from the working directory: the repository's, wherever the suite is started from.
const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));
const workerPath = join(here, 'crash-worker.ts');
const modelPath = join(here, 'crash-model.json');

export type KillMode = 'appends' | 'time' | 'mixed';

export interface CrashSuiteOptions {
  readonly sessions: number;
  readonly seed: number;
  readonly concurrency: number;
  /** SIGKILLs to deliver; after the last one the worker runs to the end. Defaults to sessions / 10, at least 3. */
  readonly kills?: number;
  /** `appends`: the worker kills itself after a seeded number of acknowledged appends; `time`: the supervisor kills it after a seeded delay; `mixed` (default): seeded choice per kill. */
  readonly killMode?: KillMode;
  /** Scratch folder; a fresh temporary one by default, removed afterwards unless `keep`. */
  readonly directory?: string;
  readonly keep?: boolean;
  readonly log?: (line: string) => void;
}

export interface KillPoint {
  readonly incarnation: number;
  readonly mode: 'appends' | 'time';
  /** Appends the worker was allowed (appends mode), or the delay in ms after READY (time mode). */
  readonly planned: number;
  /** Appends acknowledged in that incarnation before it died. */
  readonly appendsBeforeDeath: number;
}

export interface CrashSuiteSummary {
  readonly sessions: number;
  readonly concurrency: number;
  readonly seed: number;
  readonly killMode: KillMode;
  readonly kills: number;
  readonly restarts: number;
  readonly killPoints: readonly KillPoint[];
  readonly completed: number;
  /** Sessions that ended otherwise, or never ended, or never started. */
  readonly notCompleted: number;
  readonly resumedSessions: number;
  readonly acknowledgedAppends: number;
  readonly journalEvents: number;
  readonly effectsApplied: number;
  readonly chargeResults: number;
  /** Executions beyond the first that the far end absorbed by idempotency key (calls cut off by a kill). */
  readonly reExecutionsAbsorbed: number;
  /** A customer charged more than once in one session (under any key). */
  readonly duplicatedEffects: number;
  /** An execution that started after its call's result had been acknowledged: forbidden by the design. */
  readonly reExecutionsAfterResult: number;
  /** An execution in a later incarnation of a call whose outcome the idempotency store had recorded before it. */
  readonly reExecutionsAfterRecordedOutcome: number;
  /** Acknowledged events missing or changed, journal problems, results without their effect, effects without their request. */
  readonly lostEvents: number;
  readonly wallMs: number;
  /** One sentence per miss; empty when the run met its targets. */
  readonly problems: readonly string[];
}

/** A small seeded generator (mulberry32): the same seed gives the same kill schedule. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

interface Incarnation {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly appends: number;
  readonly done: boolean;
  readonly stderr: string;
  readonly workMs: number;
  readonly startMs: number;
}

interface Ledger {
  /** `${sessionId}:${seq}` → type, for every acknowledged event. */
  readonly acknowledged: Map<string, string>;
  /** `${sessionId}:${callId}` → order of the line acknowledging its outcome. */
  readonly resultAt: Map<string, number>;
  /** Every execution reported, in order, with the incarnation that ran it. */
  readonly attempts: { key: string; sessionId: string; order: number; incarnation: number }[];
  /** Date.now() when each incarnation was spawned, by incarnation number. */
  readonly spawnedAt: Map<number, number>;
  incarnation: number;
  resumed: Set<string>;
  order: number;
  appends: number;
}

export async function runCrashSuite(options: CrashSuiteOptions): Promise<CrashSuiteSummary> {
  const started = performance.now();
  const log = options.log ?? (() => undefined);
  const killMode = options.killMode ?? 'mixed';
  const targetKills = options.kills ?? Math.max(3, Math.round(options.sessions / 10));
  const random = seededRandom(options.seed);
  const directory = options.directory ?? mkdtempSync(join(tmpdir(), 'keel-crash-suite-'));
  mkdirSync(directory, { recursive: true });
  const databasePath = join(directory, 'keel.db');
  const effects = join(directory, 'effects');
  const ledger: Ledger = { acknowledged: new Map(), resultAt: new Map(), attempts: [], spawnedAt: new Map(), incarnation: 0, resumed: new Set(), order: 0, appends: 0 };
  const killPoints: KillPoint[] = [];
  const expectedAppends = options.sessions * (await appendsOfOneSession(directory));
  // The fastest append rate an incarnation has shown, to turn an append budget into a delay for a time kill.
  let appendsPerMs: number | null = null;
  let incarnations = 0;
  const maxIncarnations = targetKills + 5;

  try {
    for (;;) {
      incarnations += 1;
      if (incarnations > maxIncarnations) throw new Error(`the worker did not finish after ${maxIncarnations} incarnations`);
      // Kills spread over the work that is left: the budget is uniform on [1, 2 × remaining / (kills left + 1)].
      const remaining = Math.max(options.sessions, expectedAppends - ledger.appends);
      const meanAppendsPerKill = remaining / (Math.max(0, targetKills - killPoints.length) + 1);
      const budget = 1 + Math.floor(random() * 2 * meanAppendsPerKill);
      const modeDraw = random();
      let mode: 'appends' | 'time' | 'none' = 'none';
      if (killPoints.length < targetKills) mode = killMode === 'mixed' ? (modeDraw < 0.5 ? 'appends' : 'time') : killMode;
      // A time kill needs a measured append rate; until there is one, the kill counts appends.
      if (mode === 'time' && appendsPerMs === null) mode = 'appends';
      const delayMs = mode === 'time' && appendsPerMs !== null ? Math.max(1, Math.round(budget / appendsPerMs)) : 0;
      const outcome = await runIncarnation(
        { databasePath, effects, sessions: options.sessions, concurrency: options.concurrency, killAfterAppends: mode === 'appends' ? budget : 0, killAfterMs: mode === 'time' ? delayMs : 0 },
        ledger,
      );
      if (outcome.workMs > 0 && outcome.appends >= 50) appendsPerMs = Math.max(appendsPerMs ?? 0, outcome.appends / outcome.workMs);
      if (outcome.signal === 'SIGKILL') {
        killPoints.push({ incarnation: incarnations, mode: mode === 'time' ? 'time' : 'appends', planned: mode === 'time' ? delayMs : budget, appendsBeforeDeath: outcome.appends });
        log(`incarnation ${incarnations}: killed (${mode}, ${mode === 'time' ? `${delayMs} ms` : `${budget} appends`}) after ${outcome.appends} appends (start ${Math.round(outcome.startMs)} ms, work ${Math.round(outcome.workMs)} ms)`);
        continue;
      }
      if (outcome.code === 0 && outcome.done) {
        log(`incarnation ${incarnations}: finished after ${outcome.appends} appends (start ${Math.round(outcome.startMs)} ms, work ${Math.round(outcome.workMs)} ms)`);
        break;
      }
      throw new Error(`the worker failed (exit ${outcome.code}, signal ${outcome.signal}): ${outcome.stderr.slice(-4000)}`);
    }
    log(`one session appends ${expectedAppends / options.sessions} times`);
    const verdict = await verify(databasePath, effects, options.sessions, ledger);
    return {
      sessions: options.sessions,
      concurrency: options.concurrency,
      seed: options.seed,
      killMode,
      kills: killPoints.length,
      restarts: incarnations - 1,
      killPoints,
      resumedSessions: ledger.resumed.size,
      acknowledgedAppends: ledger.appends,
      wallMs: Math.round(performance.now() - started),
      ...verdict,
    };
  } finally {
    if (options.keep !== true && options.directory === undefined) rmSync(directory, { recursive: true, force: true });
  }
}

/** Journal appends of one uninterrupted session of crash-model.json (in memory), to spread the kills over the work. */
async function appendsOfOneSession(directory: string): Promise<number> {
  const keel = createKeel({ database: ':memory:', model: loadScriptedModel(modelPath), modelRetries: 0 });
  let appends = 0;
  const append = keel.journal.append.bind(keel.journal);
  (keel.journal as { append: typeof append }).append = async (...parameters) => {
    appends += 1;
    return append(...parameters);
  };
  await keel.run(createBiller(openFarEnd(join(directory, 'reference-far-end'))), crashTask).result;
  await keel.close();
  rmSync(join(directory, 'reference-far-end'), { recursive: true, force: true });
  return appends;
}

interface IncarnationPlan {
  readonly databasePath: string;
  readonly effects: string;
  readonly sessions: number;
  readonly concurrency: number;
  readonly killAfterAppends: number;
  readonly killAfterMs: number;
}

function runIncarnation(plan: IncarnationPlan, ledger: Ledger): Promise<Incarnation> {
  ledger.incarnation += 1;
  const incarnation = ledger.incarnation;
  ledger.spawnedAt.set(incarnation, Date.now());
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      workerPath,
      '--db',
      plan.databasePath,
      '--effects',
      plan.effects,
      '--model',
      modelPath,
      '--sessions',
      String(plan.sessions),
      '--concurrency',
      String(plan.concurrency),
      '--kill-after-appends',
      String(plan.killAfterAppends),
    ],
    { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-20_000);
  });
  let appends = 0;
  let done = false;
  let readyAt: number | null = null;
  const spawnedAt = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    ledger.order += 1;
    const space = line.indexOf(' ');
    const tag = space < 0 ? line : line.slice(0, space);
    const rest = space < 0 ? '' : line.slice(space + 1);
    switch (tag) {
      case 'A': {
        const { s, e } = JSON.parse(rest) as { s: string; e: [number, string, string?, string?][] };
        appends += 1;
        ledger.appends += 1;
        for (const [seq, type, callId] of e) {
          ledger.acknowledged.set(`${s}:${seq}`, type);
          if ((type === 'tool-result' || type === 'tool-error') && callId !== undefined && !ledger.resultAt.has(`${s}:${callId}`)) ledger.resultAt.set(`${s}:${callId}`, ledger.order);
        }
        break;
      }
      case 'T': {
        const [key, sessionId] = rest.split(' ');
        if (key !== undefined && sessionId !== undefined) ledger.attempts.push({ key, sessionId, order: ledger.order, incarnation });
        break;
      }
      case 'END': {
        const end = JSON.parse(rest) as { s: string; kind: string };
        if (end.kind === 'resume') ledger.resumed.add(end.s);
        break;
      }
      case 'READY':
        readyAt = performance.now();
        if (plan.killAfterMs > 0) timer = setTimeout(() => child.kill('SIGKILL'), plan.killAfterMs);
        break;
      case 'DONE':
        done = true;
        break;
      default:
        break;
    }
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (timer !== undefined) clearTimeout(timer);
      const workMs = readyAt === null ? 0 : performance.now() - readyAt;
      const startMs = (readyAt ?? performance.now()) - spawnedAt;
      // The line reader may still hold the last lines; let it drain before reporting.
      setImmediate(() => resolve({ code, signal, appends, done, stderr, workMs, startMs }));
    });
  });
}

async function verify(
  databasePath: string,
  effects: string,
  sessions: number,
  ledger: Ledger,
): Promise<Omit<CrashSuiteSummary, 'sessions' | 'concurrency' | 'seed' | 'killMode' | 'kills' | 'restarts' | 'killPoints' | 'resumedSessions' | 'acknowledgedAppends' | 'wallMs'>> {
  const problems: string[] = [];
  const store = createSqliteStore({ path: databasePath });
  const journals = new Map<string, SessionEvent[]>();
  try {
    for (let index = 1; index <= sessions; index += 1) {
      const sessionId = crashSessionId(index);
      const events: SessionEvent[] = [];
      for await (const event of store.journal.read(sessionId)) events.push(event);
      journals.set(sessionId, events);
    }
  } finally {
    await store.close();
  }
  const farEnd = readFarEnd(effects);

  let completed = 0;
  let lostEvents = 0;
  let journalEvents = 0;
  let chargeResults = 0;
  const keyOfCall = new Map<string, string>();
  const requestedKeys = new Set<string>();
  const resultKeys = new Map<string, string>();
  for (const [sessionId, events] of journals) {
    journalEvents += events.length;
    if (events.length === 0) {
      problems.push(`${sessionId}: never started.`);
      continue;
    }
    const validation = validateJournal(events);
    for (const problem of validation.problems) problems.push(`${sessionId}: ${problem}`);
    lostEvents += validation.problems.length;
    const end = events.at(-1);
    if (end?.type === 'session-end' && end.status === 'completed' && end.output === crashExpectedOutput) completed += 1;
    else problems.push(`${sessionId}: ended ${end?.type === 'session-end' ? `${end.status} (${end.error?.code ?? 'no error'}: ${end.error?.message ?? ''})` : `without a session-end (last event ${end?.type} at seq ${end?.seq})`}.`);
    const answered = new Set<string>();
    const requested: string[] = [];
    for (const event of events) {
      if (event.type === 'tool-request') {
        requested.push(event.callId);
        keyOfCall.set(`${sessionId}:${event.callId}`, event.idempotencyKey);
        if (event.tool === 'charge') requestedKeys.add(event.idempotencyKey);
      }
      if (event.type === 'tool-result' || event.type === 'tool-error') answered.add(event.callId);
      if (event.type === 'tool-result' && event.tool === 'charge') {
        chargeResults += 1;
        resultKeys.set(keyOfCall.get(`${sessionId}:${event.callId}`) ?? '', sessionId);
      }
      if (event.type === 'tool-error') {
        problems.push(`${sessionId}: seq ${event.seq}: ${event.tool} failed (${event.error.code}): ${event.error.message}`);
        // An applied effect journaled as a failure: the call's true outcome is lost.
        if (farEnd.applied.has(keyOfCall.get(`${sessionId}:${event.callId}`) ?? '')) lostEvents += 1;
      }
    }
    for (const callId of requested) {
      if (end?.type === 'session-end' && !answered.has(callId)) {
        problems.push(`${sessionId}: call ${callId} has no outcome although the session ended.`);
        lostEvents += 1;
      }
    }
  }

  // Every event the worker was told was written must be there, unchanged.
  let missing = 0;
  for (const [where, type] of ledger.acknowledged) {
    const cut = where.lastIndexOf(':');
    const sessionId = where.slice(0, cut);
    const seq = Number(where.slice(cut + 1));
    const event = journals.get(sessionId)?.[seq - 1];
    if (event?.seq !== seq || event.type !== type) {
      missing += 1;
      if (missing <= 20) problems.push(`${sessionId}: acknowledged ${type} at seq ${seq} is ${event === undefined ? 'missing' : `now ${event.type}`}.`);
    }
  }
  lostEvents += missing;

  // Effects against the journal: each charge result has its effect, each effect its request, each customer charged once.
  for (const [key, sessionId] of resultKeys) {
    if (!farEnd.applied.has(key)) {
      lostEvents += 1;
      problems.push(`${sessionId}: the charge with key ${key} has a tool-result but no effect at the far end.`);
    }
  }
  let duplicatedEffects = 0;
  const chargedPerCustomer = new Map<string, number>();
  for (const [key, record] of farEnd.applied) {
    if (!requestedKeys.has(key)) {
      lostEvents += 1;
      problems.push(`${record.sessionId}: an effect was applied with key ${key}, which no tool-request in the journal carries.`);
    }
    const logical = `${record.sessionId}:${record.customer}`;
    chargedPerCustomer.set(logical, (chargedPerCustomer.get(logical) ?? 0) + 1);
  }
  for (const [logical, count] of chargedPerCustomer) {
    if (count > 1) {
      duplicatedEffects += count - 1;
      problems.push(`${logical}: charged ${count} times.`);
    }
  }
  const expectedEffects = sessions * crashCustomers.length;
  if (farEnd.applied.size !== chargeResults) problems.push(`${farEnd.applied.size} effects applied but ${chargeResults} charge results journaled.`);
  if (farEnd.applied.size !== expectedEffects) problems.push(`${farEnd.applied.size} effects applied; expected ${expectedEffects} (${crashCustomers.length} per session).`);

  // Executions after the result was acknowledged would be duplicates had the far end not deduplicated them.
  let reExecutionsAfterResult = 0;
  const resultOrderByKey = new Map<string, number>();
  for (const [callKey, order] of ledger.resultAt) {
    const key = keyOfCall.get(callKey);
    if (key !== undefined) resultOrderByKey.set(key, order);
  }
  for (const attempt of ledger.attempts) {
    const resultOrder = resultOrderByKey.get(attempt.key);
    if (resultOrder !== undefined && attempt.order > resultOrder) {
      reExecutionsAfterResult += 1;
      problems.push(`${attempt.sessionId}: key ${attempt.key} executed again after its result was acknowledged.`);
    }
  }
  // The idempotency stage records each outcome (tool_outcomes.recorded_at) before the journal hears of it: a call
  // whose outcome an earlier incarnation recorded must not run again.
  let reExecutionsAfterRecordedOutcome = 0;
  const recordedAt = readRecordedOutcomes(databasePath);
  for (const attempt of ledger.attempts) {
    const recorded = recordedAt.get(attempt.key);
    const spawned = ledger.spawnedAt.get(attempt.incarnation);
    if (recorded !== undefined && spawned !== undefined && recorded < spawned) {
      reExecutionsAfterRecordedOutcome += 1;
      problems.push(`${attempt.sessionId}: key ${attempt.key} executed in incarnation ${attempt.incarnation} although its outcome was recorded before that incarnation started.`);
    }
  }
  let reExecutionsAbsorbed = 0;
  for (const count of farEnd.attempts.values()) reExecutionsAbsorbed += Math.max(0, count - 1);

  return {
    completed,
    notCompleted: sessions - completed,
    journalEvents,
    effectsApplied: farEnd.applied.size,
    chargeResults,
    reExecutionsAbsorbed,
    duplicatedEffects,
    reExecutionsAfterResult,
    reExecutionsAfterRecordedOutcome,
    lostEvents,
    problems,
  };
}

/** recorded_at of each outcome in the idempotency store that createKeel({ database }) keeps in the same file. */
function readRecordedOutcomes(databasePath: string): Map<string, number> {
  const database = new Database(databasePath, { readonly: true });
  try {
    const exists = database.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tool_outcomes'").get() !== undefined;
    if (!exists) return new Map();
    const rows = database.prepare<[], { idempotency_key: string; recorded_at: number }>('SELECT idempotency_key, recorded_at FROM tool_outcomes').all();
    return new Map(rows.map((row) => [row.idempotency_key, row.recorded_at]));
  } finally {
    database.close();
  }
}

/** The summary as a Markdown table, for the terminal and BENCHMARKS.md. */
export function formatCrashSummary(summary: CrashSuiteSummary): string {
  const rows: [string, string][] = [
    ['sessions', String(summary.sessions)],
    ['concurrency', String(summary.concurrency)],
    ['seed', String(summary.seed)],
    ['kill mode', summary.killMode],
    ['kills (SIGKILL)', `${summary.kills} (${summary.killPoints.filter((point) => point.mode === 'appends').length} after N appends, ${summary.killPoints.filter((point) => point.mode === 'time').length} after a delay)`],
    ['restarts', String(summary.restarts)],
    ['sessions resumed after a kill', String(summary.resumedSessions)],
    ['completed', `${summary.completed} / ${summary.sessions}`],
    ['journal events / acknowledged appends', `${summary.journalEvents} / ${summary.acknowledgedAppends}`],
    ['side effects applied / charge results', `${summary.effectsApplied} / ${summary.chargeResults}`],
    ['re-executions absorbed at the far end (killed after the effect, before the outcome was recorded)', String(summary.reExecutionsAbsorbed)],
    ['re-executions after an acknowledged result', String(summary.reExecutionsAfterResult)],
    ['re-executions after a recorded outcome (idempotency store)', String(summary.reExecutionsAfterRecordedOutcome)],
    ['side effects duplicated', String(summary.duplicatedEffects)],
    ['events lost', String(summary.lostEvents)],
    ['wall time', `${(summary.wallMs / 1000).toFixed(1)} s`],
  ];
  return ['| measure | value |', '|---|---|', ...rows.map(([name, value]) => `| ${name} | ${value} |`)].join('\n');
}

export function crashSuitePassed(summary: CrashSuiteSummary): boolean {
  return summary.completed === summary.sessions && summary.duplicatedEffects === 0 && summary.lostEvents === 0 && summary.reExecutionsAfterResult === 0 && summary.reExecutionsAfterRecordedOutcome === 0 && summary.problems.length === 0;
}
