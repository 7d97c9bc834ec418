import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareEvalRuns, createEvalRunStore, createSqliteStore, fisherExact, mannWhitney, renderComparison, runEvalSuite } from '../../src/index.ts';
import type { EvalComparison } from '../../src/index.ts';
import { ordersSuite } from '../fixtures/eval/orders-suite.ts';

describe('statistics', () => {
  it("computes Fisher's exact test two-sided", () => {
    // 5/5 against 0/5: the two most extreme tables of 252, each 1/252.
    expect(fisherExact(5, 0, 0, 5)).toBeCloseTo(2 / 252, 12);
    expect(fisherExact(3, 0, 0, 3)).toBeCloseTo(0.1, 12);
    // The tea-tasting table: 3/4 against 1/4 has p = 0.486 (two-sided).
    expect(fisherExact(3, 1, 1, 3)).toBeCloseTo(34 / 70, 12);
    expect(fisherExact(1, 0, 0, 1)).toBe(1);
    expect(fisherExact(4, 0, 4, 0)).toBe(1);
  });

  it('computes the Mann–Whitney U test, exact without ties and normal with them', () => {
    expect(mannWhitney([1, 2, 3], [4, 5, 6])).toEqual({ u: 0, p: 0.1, method: 'exact' });
    const shifted = mannWhitney([1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 16]);
    expect(shifted.p).toBeCloseTo(2 / 12870, 12);
    expect(mannWhitney([1, 3, 5], [2, 4, 6]).p).toBeCloseTo(0.7, 12);
    const tied = mannWhitney([1, 1, 2, 2, 3], [3, 4, 4, 5, 5]);
    expect(tied.method).toBe('normal');
    expect(tied.p).toBeLessThan(0.05);
    expect(mannWhitney([], [1]).p).toBe(1);
  });
});

describe('compare', () => {
  let folder: string;
  let comparison: EvalComparison;
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'keel-eval-compare-'));
    const database = join(folder, 'keel.db');
    const baseline = await runEvalSuite(ordersSuite({ repetitions: 5 }), { database, env: {}, concurrency: 5 });
    const regressed = await runEvalSuite(ordersSuite({ repetitions: 5, regression: true }), { database, env: {}, concurrency: 5 });
    const store = createSqliteStore({ path: database });
    try {
      const runs = createEvalRunStore(store.database);
      comparison = compareEvalRuns({ run: runs.run(baseline.runId), results: runs.results(baseline.runId) }, { run: runs.run(regressed.runId), results: runs.results(regressed.runId) });
    } finally {
      await store.close();
    }
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('catches the planted regression per case and per check, with significance', () => {
    expect(comparison.regressions).toBe(1);
    const whereIs = comparison.cases.find((entry) => entry.caseId === 'where-is');
    expect(whereIs?.outcome).toMatchObject({ verdict: 'regressed', passedA: 5, totalA: 5, passedB: 0, totalB: 5, significant: true });
    expect(whereIs?.outcome.p).toBeCloseTo(2 / 252, 12);
    const regressedChecks = whereIs?.checks.filter((check) => check.verdict === 'regressed').map((check) => check.name);
    expect(regressedChecks).toEqual(['efficiency', 'no-repeated-calls', 'states-day']);
    expect(whereIs?.checks.find((check) => check.name === 'called:lookup_order')?.verdict).toBe('unchanged');
    // The regressed run makes one more model call per case run: more tokens on every repetition, significantly.
    expect(whereIs?.tokens.medianB).toBeGreaterThan(whereIs?.tokens.medianA ?? Infinity);
    expect(whereIs?.tokens.significant).toBe(true);
    for (const caseId of ['refund', 'injected-inbox']) {
      expect(comparison.cases.find((entry) => entry.caseId === caseId)?.outcome.verdict).toBe('unchanged');
    }
  });

  it('renders the comparison for a terminal with the test named', () => {
    const text = renderComparison(comparison);
    expect(text).toContain("Fisher's exact test");
    expect(text).toMatch(/where-is: REGRESSED\* 5\/5 → 0\/5 \(p = 0\.008\)/);
    expect(text).toMatch(/check states-day: REGRESSED\* 5\/5 → 0\/5/);
    expect(text).toMatch(/1 case regressed/);
  });
});
