// Runs fault scenarios (test/suites/fault-scenarios.ts) a number of times each, checks every run and the process's
// health after each scenario, and words the result as one summary table.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from './crash-suite-runner.ts';
import { checkHealth, healthSnapshot } from './fault-kit.ts';
import type { Health } from './fault-kit.ts';

export interface FaultRunRecord {
  /** What happened, in the table's words: `retried → completed`, `failed`, `run rejected → resumed → completed`, … */
  readonly path: string;
  /** The error code the fault surfaced as (retried, journaled, or thrown), or null. */
  readonly code: string | null;
  /** Model retries journaled in the session. */
  readonly retries: number;
  readonly lostEvents: number;
  readonly duplicatedEffects: number;
  readonly problems: readonly string[];
  /** Anything worth reporting about the run, tallied per scenario (where a storage fault struck, sizes). */
  readonly note?: string;
}

export interface FaultRunContext {
  /** 0-based repetition number. */
  readonly index: number;
  /** Seeded per scenario and repetition. */
  readonly random: () => number;
  /** A fresh folder for this run, removed afterwards. */
  readonly scratch: string;
}

export interface KnownIssue {
  readonly summary: string;
  /** Matches the problems the bug causes, to tell them from any other. */
  readonly signature: RegExp;
  /** Whether every run reproduces it (CI then expects the scenario to fail until the fix). */
  readonly always: boolean;
}

export interface FaultScenario {
  readonly id: string;
  /** The fault as the table names it. */
  readonly fault: string;
  readonly expectedPath: string;
  readonly expectedCode: string | null;
  /** Repetitions may run at the same time (network faults); otherwise one after another. */
  readonly concurrent: boolean;
  /** Set when the scenario cannot run here, with the reason. */
  readonly skip?: string;
  /** A known bug in src/ this scenario reproduces, in every run (`always`) or in some; reported, not hidden. */
  readonly knownIssue?: KnownIssue;
  run(context: FaultRunContext): Promise<FaultRunRecord>;
}

export interface FaultRow {
  readonly id: string;
  readonly fault: string;
  readonly runs: number;
  readonly outcome: string;
  readonly code: string;
  readonly retriesAverage: number;
  readonly lostEvents: number;
  readonly duplicatedEffects: number;
  readonly health: Health | null;
  readonly passed: boolean;
  readonly skipped: string | null;
  readonly knownIssue: KnownIssue | null;
  /** Runs with a problem matching the known issue's signature. */
  readonly knownIssueRuns: number;
  readonly problems: readonly string[];
  /** The runs' notes, tallied. */
  readonly notes: string;
  readonly wallMs: number;
}

export interface FaultSuiteOptions {
  readonly runs: number;
  readonly seed: number;
  /** Only scenarios whose id contains one of these. */
  readonly only?: readonly string[];
  readonly onRow?: (row: FaultRow) => void;
}

function hashOf(text: string): number {
  let hash = 2166136261;
  for (let index = 0; index < text.length; index += 1) hash = Math.imul(hash ^ text.charCodeAt(index), 16777619);
  return hash >>> 0;
}

export async function runFaultScenario(scenario: FaultScenario, runs: number, seed: number): Promise<FaultRow> {
  const started = performance.now();
  if (scenario.skip !== undefined) {
    return { id: scenario.id, fault: scenario.fault, runs: 0, outcome: 'skipped', code: '—', retriesAverage: 0, lostEvents: 0, duplicatedEffects: 0, health: null, passed: true, skipped: scenario.skip, knownIssue: scenario.knownIssue ?? null, knownIssueRuns: 0, problems: [], notes: '', wallMs: 0 };
  }
  const before = healthSnapshot();
  const scratchRoot = mkdtempSync(join(tmpdir(), `keel-fault-${scenario.id}-`));
  const one = async (index: number): Promise<FaultRunRecord> => {
    const scratch = mkdtempSync(join(scratchRoot, `run-${index}-`));
    try {
      return await scenario.run({ index, random: seededRandom(hashOf(`${seed}:${scenario.id}:${index}`)), scratch });
    } catch (error) {
      return { path: 'threw', code: (error as { code?: string }).code ?? null, retries: 0, lostEvents: 0, duplicatedEffects: 0, problems: [`run ${index} threw: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`] };
    }
  };
  let records: FaultRunRecord[];
  try {
    if (scenario.concurrent) records = await Promise.all(Array.from({ length: runs }, (_, index) => one(index)));
    else {
      records = [];
      for (let index = 0; index < runs; index += 1) records.push(await one(index));
    }
  } finally {
    rmSync(scratchRoot, { recursive: true, force: true });
  }
  const health = await checkHealth(before);

  const problems: string[] = [];
  records.forEach((record, index) => {
    if (record.path !== scenario.expectedPath) problems.push(`run ${index}: ${record.path}, expected ${scenario.expectedPath}.`);
    if (record.code !== scenario.expectedCode) problems.push(`run ${index}: code ${record.code ?? 'none'}, expected ${scenario.expectedCode ?? 'none'}.`);
    for (const problem of record.problems) problems.push(`run ${index}: ${problem}`);
  });
  if (!health.healthy) problems.push(`process unhealthy afterwards: ${health.note}`);
  const count = (values: readonly string[]): string => {
    const tally = new Map<string, number>();
    for (const value of values) tally.set(value, (tally.get(value) ?? 0) + 1);
    if (tally.size <= 1) return values[0] ?? '';
    return [...tally].sort((left, right) => right[1] - left[1]).map(([value, times]) => `${times}× ${value}`).join(', ');
  };
  const lostEvents = records.reduce((sum, record) => sum + record.lostEvents, 0);
  const duplicatedEffects = records.reduce((sum, record) => sum + record.duplicatedEffects, 0);
  return {
    id: scenario.id,
    fault: scenario.fault,
    runs,
    outcome: count(records.map((record) => record.path)),
    code: count(records.map((record) => record.code ?? '—')),
    retriesAverage: Math.round((records.reduce((sum, record) => sum + record.retries, 0) / Math.max(1, runs)) * 100) / 100,
    lostEvents,
    duplicatedEffects,
    health,
    passed: problems.length === 0 && lostEvents === 0 && duplicatedEffects === 0,
    skipped: null,
    knownIssue: scenario.knownIssue ?? null,
    knownIssueRuns: records.filter((record) => record.problems.some((problem) => scenario.knownIssue?.signature.test(problem) === true)).length,
    problems,
    notes: count(records.flatMap((record) => (record.note === undefined ? [] : [record.note]))),
    wallMs: Math.round(performance.now() - started),
  };
}

export async function runFaultSuite(scenarios: readonly FaultScenario[], options: FaultSuiteOptions): Promise<FaultRow[]> {
  const rows: FaultRow[] = [];
  const selected = options.only === undefined || options.only.length === 0 ? scenarios : scenarios.filter((scenario) => options.only?.some((part) => scenario.id.includes(part)));
  for (const scenario of selected) {
    const row = await runFaultScenario(scenario, options.runs, options.seed);
    rows.push(row);
    options.onRow?.(row);
  }
  return rows;
}

/** The rows' notes as a list, for under the table. */
export function formatFaultNotes(rows: readonly FaultRow[]): string {
  return rows.filter((row) => row.notes !== '').map((row) => `- ${row.fault}: ${row.notes}`).join('\n');
}

export function formatFaultTable(rows: readonly FaultRow[]): string {
  const header = '| fault | runs | outcome | error code | retries (avg) | events lost | duplicated effects | process healthy | as expected |';
  const lines = rows.map((row) => {
    const healthy = row.skipped !== null ? `skipped: ${row.skipped}` : row.health === null ? '—' : row.health.healthy ? `yes (${row.health.note})` : `NO: ${row.health.note}`;
    return `| ${row.fault} | ${row.runs} | ${row.outcome} | ${row.code} | ${row.retriesAverage} | ${row.lostEvents} | ${row.duplicatedEffects} | ${healthy} | ${row.skipped !== null ? '—' : row.passed ? 'yes' : row.knownIssueRuns > 0 ? `NO: known bug in ${row.knownIssueRuns} of ${row.runs} runs` : 'NO'} |`;
  });
  return [header, '|---|---|---|---|---|---|---|---|---|', ...lines].join('\n');
}
