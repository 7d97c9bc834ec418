import { dirname } from 'node:path';
import { KeelError } from '../errors/index.ts';
import { costOf, defaultModelSpec } from '../model/index.ts';
import { createKeel } from '../runtime/index.ts';
import type { Keel, KeelOptions } from '../runtime/index.ts';
import type { Model } from '../spec/model.ts';
import { createSqliteAuditLog, createSqliteIdempotencyStore, createSqliteStore } from '../store/index.ts';
import type { SqliteStore } from '../store/index.ts';
import { createId } from '../util/index.ts';
import { createCassettePlayer, createCassetteRecorder } from './cassette.ts';
import type { CassettePlayer } from './cassette.ts';
import { caseScope, runCase } from './case-run.ts';
import { createJudgeService } from './judge.ts';
import { createRunModels, modelLabel } from './run-models.ts';
import type { ModelSource } from './run-models.ts';
import { createEvalRunStore } from './run-store.ts';
import type { EvalRunStore } from './run-store.ts';
import { summarizeRun } from './run-summary.ts';
import type { CassetteMode, EvalCaseResult, EvalRunRecord, EvalRunSummary } from './run-types.ts';
import { checkRunCounts } from './suite.ts';
import type { EvalCase, EvalSuite } from './suite.ts';

/** Keel options an eval run passes through to the sessions it runs (tool policy, redaction, limits…). */
export type EvalKeelOptions = Omit<KeelOptions, 'database' | 'journal' | 'blobs' | 'leases' | 'model' | 'models' | 'auditLog' | 'idempotency' | 'env' | 'cwd'>;

export interface RunEvalSuiteOptions {
  /** The SQLite database of the sessions and the eval runs (`:memory:` for a run that keeps nothing). */
  readonly database: string;
  /** The suite module's path: recorded with the run, and where the suite's relative `scripted:` model paths resolve. */
  readonly suitePath?: string;
  /** Overrides the suite's agent model. */
  readonly model?: string | Model;
  /** The judge when the suite and the check name none. */
  readonly judgeModel?: string | Model;
  /** Models by name, as `createKeel({ models })` takes them. */
  readonly models?: Readonly<Record<string, Model>>;
  readonly concurrency?: number;
  readonly repetitions?: number;
  /** Only these case ids (all when absent). */
  readonly cases?: readonly string[];
  /** `record` keeps every model call in a cassette; `{ replay: runId }` answers every call from that run's cassette, offline. */
  readonly cassette?: 'record' | 'off' | { readonly replay: string | 'latest' };
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  readonly keel?: EvalKeelOptions;
  /** After each case run, for a progress display. */
  readonly onProgress?: (progress: EvalProgress) => void;
}

export interface EvalProgress {
  readonly done: number;
  readonly total: number;
  readonly result: EvalCaseResult;
}

export interface EvalRunResult {
  readonly runId: string;
  readonly summary: EvalRunSummary;
  readonly results: readonly EvalCaseResult[];
}

/**
 * Runs a suite: every case (× repetitions) as a journaled session named after the run, at most `concurrency` at once,
 * then every check; stores the run, its results and (with `cassette: 'record'`) its cassette in the database.
 * A replay whose requests differ from the cassette rejects with `cassette-mismatch` showing the diff, after the run
 * is stored; the error's `details` carry `runId` and `summary`.
 * @example
 * ```ts
 * const { summary } = await runEvalSuite(suite, { database: '.keel/keel.db', cassette: 'record' });
 * if (!summary.thresholdMet) process.exitCode = 1;
 * ```
 */
export async function runEvalSuite(suite: EvalSuite, options: RunEvalSuiteOptions): Promise<EvalRunResult> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const cases = selectCases(suite, options.cases);
  checkRunCounts(`Eval run of suite "${suite.name}"`, { concurrency: options.concurrency, repetitions: options.repetitions ?? suite.repetitions, cases: cases.length });
  const store = createSqliteStore({ path: options.database });
  let keel: Keel | null = null;
  try {
    const runs = createEvalRunStore(store.database);
    const mode: CassetteMode = options.cassette === undefined || options.cassette === 'off' ? 'off' : options.cassette === 'record' ? 'record' : 'replay';
    const replayOf = mode === 'replay' ? replaySource(runs, suite.name, (options.cassette as { replay: string }).replay) : null;
    const runId = createId('evr');
    const player = replayOf === null ? null : createCassettePlayer(runs.cassette(replayOf.runId), store.blobs);
    const source: ModelSource =
      player !== null
        ? { kind: 'replay', player }
        : { kind: 'live', recorder: mode === 'record' ? createCassetteRecorder(store.blobs, (entry) => runs.saveCassetteEntry(runId, entry)) : null };
    const suiteFolder = options.suitePath === undefined ? cwd : dirname(options.suitePath);
    const modelFor = createRunModels({ source, env, cwd: suite.model !== undefined && options.model === undefined ? suiteFolder : cwd, registered: options.models ?? {} });
    const agentChoice = replayOf === null ? await agentModelChoice(suite, cases, options, env) : recordedModel(replayOf, options.model);
    const label = modelLabel(agentChoice);
    const agentModel = modelFor(agentChoice);
    keel = openKeel(store, options, { label, model: agentModel, env, cwd });

    let judgeCostUsd: number | null = 0;
    const judge = createJudgeService({
      modelFor,
      defaultModel: suite.judge?.model ?? options.judgeModel ?? null,
      defaultRepetitions: suite.judge?.repetitions ?? 1,
      price: (provider, modelId, usage) => costOf(provider, modelId, usage),
      onCost: (cost) => {
        judgeCostUsd = judgeCostUsd === null || cost === null ? null : judgeCostUsd + cost;
      },
    });
    const repetitions = options.repetitions ?? suite.repetitions ?? 1;
    runs.createRun({ runId, suite: suite.name, suitePath: options.suitePath ?? null, startedAt: Date.now(), cassette: mode, replayOf: replayOf?.runId ?? null, model: label, repetitions });
    const work = cases.flatMap((evalCase) => Array.from({ length: repetitions }, (_, index) => ({ evalCase, repetition: index + 1 })));
    const context = { keel, runId, agent: suite.agent, judge, budget: suite.budget, now: () => performance.now() };
    const results: EvalCaseResult[] = [];
    await inPool(work, options.concurrency ?? suite.concurrency ?? 4, async ({ evalCase, repetition }) => {
      const result = await runCase(context, evalCase, repetition);
      runs.saveResult(result);
      results.push(result);
      options.onProgress?.({ done: results.length, total: work.length, result });
    });
    results.sort((a, b) => (a.caseId === b.caseId ? a.repetition - b.repetition : a.caseId < b.caseId ? -1 : 1));
    const summary = summarizeRun({ runId, suite: suite.name, results, thresholds: suite.thresholds, judgeCostUsd, cassette: mode, report: null });
    runs.finishRun(runId, Date.now(), summary);
    // The stored run and its summary travel with the error, so a caller can still report what the replay did.
    const stored = { runId, summary };
    throwFirstMismatch(player, stored);
    throwUnplayed(player, work.map(({ evalCase, repetition }) => caseScope(evalCase.id, repetition)), stored);
    return { runId, summary, results };
  } finally {
    await keel?.close();
    await store.close();
  }
}

function selectCases(suite: EvalSuite, wanted: readonly string[] | undefined): readonly EvalCase[] {
  if (wanted === undefined || wanted.length === 0) return suite.cases;
  const known = new Set(suite.cases.map((evalCase) => evalCase.id));
  const unknown = wanted.filter((id) => !known.has(id));
  if (unknown.length > 0) throw new KeelError('invalid-argument', `Suite ${suite.name} has no case ${unknown.join(', ')}; its cases are ${[...known].join(', ')}.`);
  return suite.cases.filter((evalCase) => wanted.includes(evalCase.id));
}

function replaySource(runs: EvalRunStore, suite: string, wanted: string): EvalRunRecord {
  const record = wanted === 'latest' ? runs.latestRecording(suite) : runs.run(wanted);
  if (record === null) throw new KeelError('invalid-argument', `Suite ${suite} has no recorded run to replay; run it once with --record first.`, { details: { suite } });
  if (record.cassette !== 'record') throw new KeelError('invalid-argument', `Eval run ${record.runId} did not record a cassette (it ran with cassette ${record.cassette}); replay a run made with --record.`, { details: { runId: record.runId } });
  if (record.suite !== suite) throw new KeelError('invalid-argument', `Eval run ${record.runId} is of suite ${record.suite}, not ${suite}.`, { details: { runId: record.runId } });
  return record;
}

/** The run's option, else the suite's, else the agent's own (the first case's, for a factory), else the environment's. */
async function agentModelChoice(suite: EvalSuite, cases: readonly EvalCase[], options: RunEvalSuiteOptions, env: Readonly<Record<string, string | undefined>>): Promise<string | Model> {
  const given = options.model ?? suite.model;
  if (given !== undefined) return given;
  const first = cases[0] as EvalCase;
  const agent = typeof suite.agent === 'function' ? await suite.agent({ caseId: first.id, repetition: 1, fixtures: first.fixtures }) : suite.agent;
  return agent.model ?? env.KEEL_MODEL ?? defaultModelSpec(env);
}

interface KeelModel {
  readonly label: string;
  readonly model: Model;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

/** A Keel over the opened store: the eval's sessions are ordinary sessions of this database, audited and leased. */
function openKeel(store: SqliteStore, options: RunEvalSuiteOptions, model: KeelModel): Keel {
  return createKeel({
    ...options.keel,
    journal: store.journal,
    blobs: store.blobs,
    leases: store.leases,
    auditLog: createSqliteAuditLog({ database: store.database }),
    idempotency: createSqliteIdempotencyStore(store.database, options.database),
    // Registered names cannot hold ':' (it marks provider specs), so the run's model is registered under its label with '/'.
    models: { ...options.models, [registeredName(model.label)]: model.model },
    model: registeredName(model.label),
    env: model.env,
    cwd: model.cwd,
  });
}

function registeredName(label: string): string {
  return label.replaceAll(':', '/');
}

async function inPool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  if (!(Number.isInteger(limit) && limit > 0)) throw new KeelError('invalid-config', `Eval concurrency must be a positive integer, got ${limit}.`);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** A replay uses the model the recording used; another one given explicitly could only miss every call. */
function recordedModel(recording: EvalRunRecord, given: string | Model | undefined): string {
  if (recording.model === null) throw new KeelError('invalid-argument', `Eval run ${recording.runId} recorded no model name, so it cannot be replayed.`);
  if (given !== undefined && modelLabel(given) !== recording.model) {
    throw new KeelError('invalid-argument', `Eval run ${recording.runId} was recorded with model ${recording.model}, not ${modelLabel(given)}: a replay answers only the calls recorded. Drop --model, or record again with it.`);
  }
  return recording.model;
}

/** A replay that made fewer calls than were recorded did not reproduce the run either, even if each call matched. */
function throwUnplayed(player: CassettePlayer | null, scopes: readonly string[], stored: StoredRun): void {
  if (player === null) return;
  const unplayed = scopes.map((scope) => ({ scope, count: player.unused(scope) })).filter((entry) => entry.count > 0);
  if (unplayed.length === 0) return;
  const list = unplayed.map((entry) => `${entry.scope} (${entry.count})`).join(', ');
  throw new KeelError('cassette-mismatch', `The replay made fewer model calls than the recording: recorded calls never asked for in ${list}. The agent or the suite changed since the recording (a check removed, a loop that stops earlier); record again with --record if the change is intended.`, { details: { unplayed, ...stored } });
}

interface StoredRun {
  readonly runId: string;
  readonly summary: EvalRunSummary;
}

function throwFirstMismatch(player: CassettePlayer | null, stored: StoredRun): void {
  const first = player?.mismatches[0];
  if (first === undefined) return;
  const more = (player?.mismatches.length ?? 1) - 1;
  throw new KeelError('cassette-mismatch', more === 0 ? first.message : `${first.message}\n(${more} more request${more === 1 ? '' : 's'} did not match.)`, { details: { ...first.details, ...stored } });
}
