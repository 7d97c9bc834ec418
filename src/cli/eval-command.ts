import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { isKeelError, KeelError } from '../errors/index.ts';
import { compareEvalRuns, createEvalRunStore, isEvalSuite, renderComparison, renderEvalReport, runEvalSuite } from '../eval/index.ts';
import type { EvalCaseResult, EvalProgress, EvalRunStore, EvalRunSummary } from '../eval/index.ts';
import { createSqliteStore } from '../store/index.ts';
import { chooseDatabase, hint } from './cli-context.ts';
import type { CliContext, DatabaseChoice } from './cli-context.ts';
import { importUserModule } from './load-agent.ts';

export interface EvalCommandOptions {
  readonly json?: boolean;
  readonly concurrency?: number;
  readonly repeat?: number;
  readonly case?: readonly string[];
  readonly model?: string;
  readonly judgeModel?: string;
  readonly record?: boolean;
  readonly replay?: boolean | string;
  readonly report?: string;
  readonly serverUrl?: string;
}

/** `keel eval <suite>`: exit 0 when every threshold is met, 1 otherwise. */
export async function runEvalCommand(context: CliContext, command: Command, suitePath: string, options: EvalCommandOptions): Promise<number> {
  if (options.record === true && options.replay !== undefined) throw new KeelError('invalid-argument', '--record and --replay exclude each other: record a run once, then replay it.');
  const database = chooseDatabase(context, command);
  const { loaded, modulePath } = await importUserModule(suitePath, context.cwd, 'eval suite');
  const suite = defaultExport(loaded);
  if (!isEvalSuite(suite)) throw new KeelError('invalid-config', `${modulePath} must default-export a suite: \`export default defineEvalSuite({ name, agent, cases })\`.`);
  const progress = progressBar(options.json !== true && process.stderr.isTTY === true);
  const run = await runEvalSuite(suite, {
    database: database.path,
    suitePath: modulePath,
    env: context.env,
    cwd: context.cwd,
    ...(options.model === undefined ? {} : { model: options.model }),
    ...(options.judgeModel === undefined ? {} : { judgeModel: options.judgeModel }),
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    ...(options.repeat === undefined ? {} : { repetitions: options.repeat }),
    ...(options.case === undefined ? {} : { cases: options.case }),
    cassette: options.record === true ? 'record' : options.replay === undefined || options.replay === false ? 'off' : { replay: options.replay === true ? 'latest' : options.replay },
    onProgress: progress.update,
  })
    .catch((thrown: unknown) => replayFailure(context, thrown, options))
    .finally(progress.done);
  if (typeof run === 'number') return run;
  const { runId, summary, results } = run;
  let report: string | null = null;
  if (options.report !== undefined) {
    report = resolve(context.cwd, options.report);
    await writeReport(database, runId, report, context, options.serverUrl);
  }
  const shown: EvalRunSummary = { ...summary, report };
  if (options.json === true) context.out(JSON.stringify(shown));
  else printRun(context, database, shown, results);
  return summary.thresholdMet ? 0 : 1;
}

/**
 * A replay that did not match its cassette still ran and was stored: the error goes to stderr, and with --json the
 * run's summary is still the last line of stdout, with the error in it.
 */
function replayFailure(context: CliContext, thrown: unknown, options: EvalCommandOptions): number {
  if (!isKeelError(thrown) || thrown.code !== 'cassette-mismatch' || thrown.details.summary === undefined) throw thrown;
  context.err(`keel: ${thrown.code}: ${thrown.message}`);
  const summary = thrown.details.summary as EvalRunSummary;
  if (options.json === true) context.out(JSON.stringify({ ...summary, thresholdMet: false, error: { code: thrown.code, message: thrown.message.split('\n')[0] } }));
  else context.out(`Run ${summary.run} of ${summary.suite} did not replay its cassette; see the error above.`);
  return 1;
}

export async function compareCommand(context: CliContext, command: Command, runA: string, runB: string, options: { json?: boolean }): Promise<number> {
  const comparison = await withRuns(chooseDatabase(context, command), (runs) => compareEvalRuns({ run: runs.run(runA), results: runs.results(runA) }, { run: runs.run(runB), results: runs.results(runB) }));
  context.out(options.json === true ? JSON.stringify(comparison) : renderComparison(comparison));
  return comparison.regressions > 0 ? 1 : 0;
}

export async function reportCommand(context: CliContext, command: Command, runId: string, options: { out?: string; serverUrl?: string }): Promise<number> {
  const database = chooseDatabase(context, command);
  const file = resolve(context.cwd, options.out ?? `eval-${runId}.html`);
  await writeReport(database, runId, file, context, options.serverUrl);
  context.out(`Report of ${runId}: ${file}`);
  return 0;
}

export async function listRunsCommand(context: CliContext, command: Command, options: { suite?: string; limit?: number; json?: boolean }): Promise<number> {
  const records = await withRuns(chooseDatabase(context, command), (runs) => runs.runs({ ...(options.suite === undefined ? {} : { suite: options.suite }), limit: options.limit ?? 20 }));
  if (records.length === 0 && options.json !== true) context.out('No eval runs yet; run a suite with `keel eval <suite>`.');
  for (const record of records) {
    if (options.json === true) {
      context.out(JSON.stringify(record));
      continue;
    }
    const summary = record.summary;
    const outcome = summary === null ? 'running or interrupted' : `${summary.passed}/${summary.sessions} passed, thresholds ${summary.thresholdMet ? 'met' : 'missed'}`;
    context.out(`${record.runId}  ${record.suite}  ${new Date(record.startedAt).toISOString()}  cassette=${record.cassette}  ${outcome}`);
  }
  return 0;
}

/** Reads the eval tables of an existing database (never creates one for a command that only reads). */
async function withRuns<T>(database: DatabaseChoice, work: (runs: EvalRunStore) => T): Promise<T> {
  if (database.path !== ':memory:' && !existsSync(database.path)) {
    throw new KeelError('invalid-argument', `No database at ${database.path}: pass the one the suite ran with (--db PATH or KEEL_DB).`, { details: { path: database.path } });
  }
  const store = createSqliteStore({ path: database.path });
  try {
    return work(createEvalRunStore(store.database));
  } finally {
    await store.close();
  }
}

async function writeReport(database: DatabaseChoice, runId: string, file: string, context: CliContext, serverUrl: string | undefined): Promise<void> {
  const html = await withRuns(database, (runs) => {
    const traceCommand = (sessionId: string): string => hint(context, database, ['trace', sessionId]);
    return renderEvalReport({ run: runs.run(runId), results: runs.results(runId), traceCommand, ...(serverUrl === undefined ? {} : { serverUrl }) });
  });
  writeFileSync(file, html);
}

function printRun(context: CliContext, database: DatabaseChoice, summary: EvalRunSummary, results: readonly EvalCaseResult[]): void {
  for (const result of results) {
    const failed = result.checks.filter((check) => !check.passed);
    const cost = result.costUsd === null ? 'cost unknown' : `$${result.costUsd.toFixed(4)}`;
    context.out(`${result.passed ? '✓' : '✗'} ${result.caseId} #${result.repetition}  ${result.checks.length - failed.length}/${result.checks.length} checks  ${result.status}  ${cost}  ${Math.round(result.latencyMs)} ms`);
    for (const check of failed) context.out(`    ✗ ${check.name}: ${check.detail}`);
    if (!result.passed) context.out(`    trace: ${hint(context, database, ['trace', result.sessionId])}`);
  }
  const cost = summary.costUsd === null ? 'cost unknown' : `$${summary.costUsd.toFixed(4)}`;
  context.out(`Run ${summary.run} of ${summary.suite}: ${summary.passed}/${summary.sessions} passed (${(summary.passRate * 100).toFixed(1)} %), ${cost}, cassette ${summary.cassette}.`);
  for (const line of summary.thresholdFailures) context.out(`  threshold missed: ${line}`);
  if (summary.report !== null) context.out(`Report: ${summary.report}`);
  context.out(`Compare with an earlier run: ${hint(context, database, ['eval', 'compare', '<earlier-run-id>', summary.run])}`);
}

/** A one-line progress bar on a terminal's stderr, redrawn after each case run; nothing elsewhere. */
function progressBar(enabled: boolean): { update: (progress: EvalProgress) => void; done: () => void } {
  if (!enabled) return { update: () => undefined, done: () => undefined };
  let drawn = false;
  return {
    update(progress) {
      const width = 24;
      const filled = Math.round((progress.done / progress.total) * width);
      process.stderr.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${progress.done}/${progress.total} ${progress.result.passed ? 'pass' : 'FAIL'} ${progress.result.caseId}\u001b[K`);
      drawn = true;
    },
    done() {
      if (drawn) process.stderr.write('\r\u001b[K');
    },
  };
}

/** The module's default export, also when a CommonJS build wraps it as `{ default: { default: suite } }`. */
function defaultExport(loaded: Record<string, unknown>): unknown {
  if (isEvalSuite(loaded.default)) return loaded.default;
  const inner = loaded.default as { default?: unknown } | null | undefined;
  return typeof inner === 'object' && inner !== null ? inner.default : loaded.default;
}
