import { KeelError } from '../errors/index.ts';
import { migrate } from '../store/index.ts';
import type { Migration, SqliteDatabase } from '../store/index.ts';
import { groupCommitOf } from '../store/sqlite-group-commit.ts';
import type { CassetteEntry } from './cassette.ts';
import type { CassetteMode, EvalCaseResult, EvalRunRecord, EvalRunSummary } from './run-types.ts';

/** Eval runs live in the database of the sessions they ran, beside the journal, in tables of their own. */
export const evalMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'eval runs, case results and cassettes',
    sql: `
      CREATE TABLE eval_runs (
        run_id TEXT PRIMARY KEY,
        suite TEXT NOT NULL,
        suite_path TEXT,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        status TEXT NOT NULL,
        cassette TEXT NOT NULL,
        replay_of TEXT,
        model TEXT,
        repetitions INTEGER NOT NULL,
        summary TEXT
      );
      CREATE INDEX eval_runs_suite ON eval_runs (suite, started_at);
      CREATE TABLE eval_results (
        run_id TEXT NOT NULL REFERENCES eval_runs (run_id),
        case_id TEXT NOT NULL,
        repetition INTEGER NOT NULL,
        session_id TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (run_id, case_id, repetition)
      ) WITHOUT ROWID;
      CREATE TABLE eval_cassette (
        run_id TEXT NOT NULL REFERENCES eval_runs (run_id),
        position INTEGER NOT NULL,
        scope TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        response_hash TEXT NOT NULL,
        label TEXT NOT NULL,
        provider TEXT NOT NULL,
        model_id TEXT NOT NULL,
        PRIMARY KEY (run_id, position)
      ) WITHOUT ROWID;`,
  },
];

export interface NewEvalRun {
  readonly runId: string;
  readonly suite: string;
  readonly suitePath: string | null;
  readonly startedAt: number;
  readonly cassette: CassetteMode;
  readonly replayOf: string | null;
  readonly model: string | null;
  readonly repetitions: number;
}

export interface EvalRunStore {
  createRun(run: NewEvalRun): void;
  finishRun(runId: string, endedAt: number, summary: EvalRunSummary): void;
  saveResult(result: EvalCaseResult): void;
  saveCassetteEntry(runId: string, entry: CassetteEntry): void;
  run(runId: string): EvalRunRecord;
  runs(options?: { readonly suite?: string; readonly limit?: number }): readonly EvalRunRecord[];
  results(runId: string): readonly EvalCaseResult[];
  cassette(runId: string): readonly CassetteEntry[];
  /** The newest finished run of the suite that recorded a cassette, or null. */
  latestRecording(suite: string): EvalRunRecord | null;
}

interface RunRow {
  run_id: string;
  suite: string;
  suite_path: string | null;
  started_at: number;
  ended_at: number | null;
  status: string;
  cassette: string;
  replay_of: string | null;
  model: string | null;
  repetitions: number;
  summary: string | null;
}

/**
 * The eval tables on an open Keel database (migrated on first use): runs, case results and cassettes.
 * @example
 * ```ts
 * const store = createSqliteStore({ path: '.keel/keel.db' });
 * const runs = createEvalRunStore(store.database);
 * for (const run of runs.runs({ suite: 'support', limit: 5 })) console.log(run.runId, run.summary?.passRate);
 * ```
 */
export function createEvalRunStore(database: SqliteDatabase): EvalRunStore {
  migrate(database, 'eval', evalMigrations);
  // Writes join the connection's group commit when it has one, so they never open a second transaction inside it.
  const write = <T>(work: () => T): T => {
    const group = groupCommitOf(database);
    return group === undefined ? work() : group.durable(work);
  };
  const insertRun = database.prepare(
    'INSERT INTO eval_runs (run_id, suite, suite_path, started_at, ended_at, status, cassette, replay_of, model, repetitions, summary) VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, NULL)',
  );
  const updateRun = database.prepare('UPDATE eval_runs SET ended_at = ?, status = ?, summary = ? WHERE run_id = ?');
  const insertResult = database.prepare('INSERT OR REPLACE INTO eval_results (run_id, case_id, repetition, session_id, body) VALUES (?, ?, ?, ?, ?)');
  const insertEntry = database.prepare('INSERT INTO eval_cassette (run_id, position, scope, request_hash, response_hash, label, provider, model_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  const selectRun = database.prepare<[string], RunRow>('SELECT * FROM eval_runs WHERE run_id = ?');

  const toRecord = (row: RunRow): EvalRunRecord => ({
    runId: row.run_id,
    suite: row.suite,
    suitePath: row.suite_path,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    status: row.status === 'passed' || row.status === 'failed' ? row.status : 'running',
    cassette: row.cassette === 'record' || row.cassette === 'replay' ? row.cassette : 'off',
    replayOf: row.replay_of,
    model: row.model,
    repetitions: row.repetitions,
    summary: row.summary === null ? null : (JSON.parse(row.summary) as EvalRunSummary),
  });

  return {
    createRun(run) {
      write(() => insertRun.run(run.runId, run.suite, run.suitePath, run.startedAt, 'running', run.cassette, run.replayOf, run.model, run.repetitions));
    },
    finishRun(runId, endedAt, summary) {
      write(() => updateRun.run(endedAt, summary.thresholdMet ? 'passed' : 'failed', JSON.stringify(summary), runId));
    },
    saveResult(result) {
      write(() => insertResult.run(result.runId, result.caseId, result.repetition, result.sessionId, JSON.stringify(result)));
    },
    saveCassetteEntry(runId, entry) {
      write(() => insertEntry.run(runId, entry.position, entry.scope, entry.requestHash, entry.responseHash, entry.label, entry.provider, entry.modelId));
    },
    run(runId) {
      const row = selectRun.get(runId);
      if (row === undefined) throw new KeelError('invalid-argument', `No eval run ${runId} in ${database.name}; list them with \`keel eval runs\`.`, { details: { runId } });
      return toRecord(row);
    },
    runs(options = {}) {
      const limit = Math.max(1, Math.min(options.limit ?? 50, 1_000));
      const rows =
        options.suite === undefined
          ? database.prepare<[number], RunRow>('SELECT * FROM eval_runs ORDER BY started_at DESC, run_id DESC LIMIT ?').all(limit)
          : database.prepare<[string, number], RunRow>('SELECT * FROM eval_runs WHERE suite = ? ORDER BY started_at DESC, run_id DESC LIMIT ?').all(options.suite, limit);
      return rows.map(toRecord);
    },
    results(runId) {
      const rows = database.prepare<[string], { body: string }>('SELECT body FROM eval_results WHERE run_id = ? ORDER BY case_id, repetition').all(runId);
      return rows.map((row) => JSON.parse(row.body) as EvalCaseResult);
    },
    cassette(runId) {
      const rows = database
        .prepare<[string], { position: number; scope: string; request_hash: string; response_hash: string; label: string; provider: string; model_id: string }>(
          'SELECT position, scope, request_hash, response_hash, label, provider, model_id FROM eval_cassette WHERE run_id = ? ORDER BY position',
        )
        .all(runId);
      return rows.map((row) => ({ position: row.position, scope: row.scope, requestHash: row.request_hash, responseHash: row.response_hash, label: row.label, provider: row.provider, modelId: row.model_id }));
    },
    latestRecording(suite) {
      const row = database
        .prepare<[string], RunRow>("SELECT * FROM eval_runs WHERE suite = ? AND cassette = 'record' AND ended_at IS NOT NULL ORDER BY started_at DESC, run_id DESC LIMIT 1")
        .get(suite);
      return row === undefined ? null : toRecord(row);
    },
  };
}
