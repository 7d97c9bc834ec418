import type { EvalThresholds } from './suite.ts';
import type { CassetteMode, EvalCaseResult, EvalCheckSummary, EvalRunSummary } from './run-types.ts';

export interface SummaryInput {
  readonly runId: string;
  readonly suite: string;
  readonly results: readonly EvalCaseResult[];
  readonly thresholds: EvalThresholds | undefined;
  readonly judgeCostUsd: number | null;
  readonly cassette: CassetteMode;
  readonly report: string | null;
}

/** Pass rates per check and overall, the run's cost, and whether every threshold was met (a case that errored never meets one). */
export function summarizeRun(input: SummaryInput): EvalRunSummary {
  const { results, thresholds } = input;
  const checks: Record<string, { passed: number; total: number }> = {};
  for (const result of results) {
    for (const check of result.checks) {
      const entry = (checks[check.name] ??= { passed: 0, total: 0 });
      entry.total += 1;
      if (check.passed) entry.passed += 1;
    }
  }
  const checkSummaries: Record<string, EvalCheckSummary> = {};
  for (const name of Object.keys(checks).sort()) {
    const entry = checks[name] as { passed: number; total: number };
    checkSummaries[name] = { ...entry, rate: entry.total === 0 ? 0 : entry.passed / entry.total };
  }
  const passed = results.filter((result) => result.passed).length;
  const errored = results.filter((result) => result.status === 'error').length;
  const passRate = results.length === 0 ? 0 : passed / results.length;
  const agentCost = sumOrNull(results.map((result) => result.costUsd));
  const costUsd = agentCost === null || input.judgeCostUsd === null ? null : agentCost + input.judgeCostUsd;

  const failures: string[] = [];
  const wantedRate = thresholds?.passRate ?? 1;
  if (passRate < wantedRate) failures.push(`pass rate ${percent(passRate)} is below ${percent(wantedRate)}`);
  for (const [name, wanted] of Object.entries(thresholds?.checks ?? {})) {
    const summary = checkSummaries[name];
    if (summary === undefined) failures.push(`check ${name} has a threshold but no case ran it`);
    else if (summary.rate < wanted) failures.push(`check ${name} passed ${percent(summary.rate)}, below ${percent(wanted)}`);
  }
  if (thresholds?.maxCostUsd !== undefined) {
    if (costUsd === null) failures.push('the run cost is unknown (a model has no price), so maxCostUsd cannot be checked');
    else if (costUsd > thresholds.maxCostUsd) failures.push(`cost $${costUsd.toFixed(4)} is over $${thresholds.maxCostUsd}`);
  }
  if (errored > 0) failures.push(`${errored} case run${errored === 1 ? '' : 's'} could not run`);

  return {
    run: input.runId,
    suite: input.suite,
    cases: new Set(results.map((result) => result.caseId)).size,
    sessions: results.length,
    passed,
    failed: results.length - passed,
    errored,
    passRate,
    thresholdMet: failures.length === 0,
    thresholdFailures: failures,
    checks: checkSummaries,
    costUsd,
    judgeCostUsd: input.judgeCostUsd,
    cassette: input.cassette,
    report: input.report,
  };
}

function sumOrNull(values: readonly (number | null)[]): number | null {
  let total = 0;
  for (const value of values) {
    if (value === null) return null;
    total += value;
  }
  return total;
}

function percent(rate: number): string {
  return `${(rate * 100).toFixed(1)} %`;
}
