import { fisherExact, mannWhitney, median } from './statistics.ts';
import type { EvalCaseResult, EvalRunRecord } from './run-types.ts';

/** Below this p-value a difference is reported as significant. */
export const significanceLevel = 0.05;

export type ChangeVerdict = 'regressed' | 'improved' | 'unchanged' | 'added' | 'removed';

export interface RateChange {
  readonly passedA: number;
  readonly totalA: number;
  readonly passedB: number;
  readonly totalB: number;
  readonly verdict: ChangeVerdict;
  /** Fisher's exact test, two-sided; 1 when either run has a single repetition's worth of evidence only. */
  readonly p: number;
  readonly significant: boolean;
}

export interface MeasureChange {
  readonly medianA: number | null;
  readonly medianB: number | null;
  /** (B − A) / A; null when A is 0 or unknown. */
  readonly relative: number | null;
  /** Mann–Whitney U, two-sided. */
  readonly p: number;
  readonly significant: boolean;
}

export interface CaseComparison {
  readonly caseId: string;
  readonly outcome: RateChange;
  readonly checks: readonly ({ readonly name: string } & RateChange)[];
  readonly costUsd: MeasureChange;
  readonly latencyMs: MeasureChange;
  readonly tokens: MeasureChange;
}

export interface EvalComparison {
  readonly runA: string;
  readonly runB: string;
  readonly suiteA: string;
  readonly suiteB: string;
  readonly cases: readonly CaseComparison[];
  readonly regressions: number;
  readonly improvements: number;
  /** How significance was decided, for the report. */
  readonly method: string;
}

/**
 * Run B against run A, case by case and check by check: pass counts (Fisher's exact test), cost, latency and tokens
 * (Mann–Whitney U on the repetitions). A case present in one run only is `added` or `removed`.
 * @example
 * ```ts
 * const comparison = compareEvalRuns({ run: runs.run(a), results: runs.results(a) }, { run: runs.run(b), results: runs.results(b) });
 * console.log(renderComparison(comparison));
 * if (comparison.regressions > 0) process.exitCode = 1;
 * ```
 */
export function compareEvalRuns(a: { readonly run: EvalRunRecord; readonly results: readonly EvalCaseResult[] }, b: { readonly run: EvalRunRecord; readonly results: readonly EvalCaseResult[] }): EvalComparison {
  const byCaseA = groupByCase(a.results);
  const byCaseB = groupByCase(b.results);
  const caseIds = [...new Set([...byCaseA.keys(), ...byCaseB.keys()])].sort();
  const cases = caseIds.map((caseId) => compareCase(caseId, byCaseA.get(caseId) ?? [], byCaseB.get(caseId) ?? []));
  const verdicts = cases.flatMap((entry) => [entry.outcome.verdict, ...entry.checks.map((check) => check.verdict)]);
  return {
    runA: a.run.runId,
    runB: b.run.runId,
    suiteA: a.run.suite,
    suiteB: b.run.suite,
    cases,
    regressions: cases.filter((entry) => entry.outcome.verdict === 'regressed' || entry.checks.some((check) => check.verdict === 'regressed')).length,
    improvements: verdicts.filter((verdict) => verdict === 'improved').length,
    method: `pass rates: Fisher's exact test; cost, latency and tokens: Mann–Whitney U; two-sided, significant below p = ${significanceLevel}`,
  };
}

function groupByCase(results: readonly EvalCaseResult[]): Map<string, EvalCaseResult[]> {
  const groups = new Map<string, EvalCaseResult[]>();
  for (const result of results) {
    const list = groups.get(result.caseId) ?? [];
    list.push(result);
    groups.set(result.caseId, list);
  }
  return groups;
}

function compareCase(caseId: string, a: readonly EvalCaseResult[], b: readonly EvalCaseResult[]): CaseComparison {
  const checkNames = [...new Set([...a, ...b].flatMap((result) => result.checks.map((check) => check.name)))].sort();
  const checkPasses = (results: readonly EvalCaseResult[], name: string): boolean[] => results.flatMap((result) => result.checks.filter((check) => check.name === name).map((check) => check.passed));
  return {
    caseId,
    outcome: rateChange(a.map((result) => result.passed), b.map((result) => result.passed)),
    checks: checkNames.map((name) => ({ name, ...rateChange(checkPasses(a, name), checkPasses(b, name)) })),
    costUsd: measureChange(known(a.map((result) => result.costUsd)), known(b.map((result) => result.costUsd))),
    latencyMs: measureChange(a.map((result) => result.latencyMs), b.map((result) => result.latencyMs)),
    tokens: measureChange(a.map((result) => result.inputTokens + result.outputTokens), b.map((result) => result.inputTokens + result.outputTokens)),
  };
}

function rateChange(a: readonly boolean[], b: readonly boolean[]): RateChange {
  const passedA = a.filter(Boolean).length;
  const passedB = b.filter(Boolean).length;
  const base = { passedA, totalA: a.length, passedB, totalB: b.length };
  if (a.length === 0) return { ...base, verdict: 'added', p: 1, significant: false };
  if (b.length === 0) return { ...base, verdict: 'removed', p: 1, significant: false };
  const rateA = passedA / a.length;
  const rateB = passedB / b.length;
  const p = fisherExact(passedA, a.length - passedA, passedB, b.length - passedB);
  const verdict: ChangeVerdict = rateB < rateA ? 'regressed' : rateB > rateA ? 'improved' : 'unchanged';
  return { ...base, verdict, p, significant: verdict !== 'unchanged' && p < significanceLevel };
}

function measureChange(a: readonly number[], b: readonly number[]): MeasureChange {
  const medianA = median(a);
  const medianB = median(b);
  const relative = medianA === null || medianB === null || medianA === 0 ? null : (medianB - medianA) / medianA;
  const { p } = mannWhitney(a, b);
  return { medianA, medianB, relative, p, significant: p < significanceLevel };
}

function known(values: readonly (number | null)[]): number[] {
  return values.filter((value): value is number => value !== null);
}

/** The comparison as text for a terminal: what changed, case by case, significant changes marked with `*`. */
export function renderComparison(comparison: EvalComparison): string {
  const lines = [`Compare ${comparison.runA} (A) → ${comparison.runB} (B)`, `  ${comparison.method}`];
  for (const entry of comparison.cases) {
    const changedChecks = entry.checks.filter((check) => check.verdict !== 'unchanged');
    const line = `${entry.caseId}: ${describeRate(entry.outcome)}  cost ${describeMeasure(entry.costUsd, (value) => `$${value.toFixed(4)}`)}  latency ${describeMeasure(entry.latencyMs, (value) => `${Math.round(value)} ms`)}`;
    lines.push(line);
    for (const check of changedChecks) lines.push(`    check ${check.name}: ${describeRate(check)}`);
  }
  lines.push(`${comparison.regressions} case${comparison.regressions === 1 ? '' : 's'} regressed, ${comparison.improvements} improvement${comparison.improvements === 1 ? '' : 's'}.`);
  return lines.join('\n');
}

function describeRate(change: RateChange): string {
  const rates = `${change.passedA}/${change.totalA} → ${change.passedB}/${change.totalB}`;
  if (change.verdict === 'unchanged') return `unchanged (${rates})`;
  if (change.verdict === 'added' || change.verdict === 'removed') return `${change.verdict} (${rates})`;
  return `${change.verdict.toUpperCase()}${change.significant ? '*' : ''} ${rates} (p = ${change.p.toFixed(3)})`;
}

function describeMeasure(change: MeasureChange, format: (value: number) => string): string {
  if (change.medianA === null || change.medianB === null) return 'n/a';
  const relative = change.relative === null ? '' : ` (${change.relative >= 0 ? '+' : ''}${(change.relative * 100).toFixed(0)} %${change.significant ? '*' : ''})`;
  return `${format(change.medianA)} → ${format(change.medianB)}${relative}`;
}
