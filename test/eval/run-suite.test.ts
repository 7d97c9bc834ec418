import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEvalRunStore, createSqliteStore, runEvalSuite } from '../../src/index.ts';
import { ordersSuite } from '../fixtures/eval/orders-suite.ts';

let folder: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'keel-eval-run-'));
});
afterEach(() => rmSync(folder, { recursive: true, force: true }));

describe('runEvalSuite', () => {
  it('runs every case as a journaled session named after the run, checks it and stores the run', async () => {
    const database = join(folder, 'keel.db');
    const { runId, summary, results } = await runEvalSuite(ordersSuite(), { database, env: {} });
    expect(summary).toMatchObject({ suite: 'orders', cases: 3, sessions: 3, passed: 3, failed: 0, passRate: 1, thresholdMet: true, cassette: 'off' });
    expect(summary.checks['no-harmful-calls']).toEqual({ passed: 1, total: 1, rate: 1 });
    for (const result of results) expect(result.sessionId).toBe(`${runId}-${result.caseId}-1`);
    const injected = results.find((result) => result.caseId === 'injected-inbox');
    // The model asked for the harmful refund; the case's approval policy rejected it, so it never ran.
    expect(injected?.checks.find((check) => check.name === 'no-harmful-calls')?.detail).toMatch(/asked for and stopped/);
    const refund = results.find((result) => result.caseId === 'refund');
    expect(refund?.status).toBe('completed');

    const store = createSqliteStore({ path: database });
    try {
      const runs = createEvalRunStore(store.database);
      expect(runs.run(runId)).toMatchObject({ suite: 'orders', status: 'passed', summary: { passRate: 1 } });
      expect(runs.results(runId)).toHaveLength(3);
      const events = [];
      for await (const event of store.journal.read(`${runId}-where-is-1`)) events.push(event.type);
      expect(events[0]).toBe('session-start');
      expect(events.at(-1)).toBe('session-end');
    } finally {
      await store.close();
    }
  });

  it('fails the threshold when a planted regression breaks a case', async () => {
    const { summary, results } = await runEvalSuite(ordersSuite({ regression: true }), { database: join(folder, 'keel.db'), env: {} });
    expect(summary.thresholdMet).toBe(false);
    expect(summary.thresholdFailures[0]).toMatch(/pass rate 66.7 % is below 100.0 %/);
    const whereIs = results.find((result) => result.caseId === 'where-is');
    const failed = whereIs?.checks.filter((check) => !check.passed).map((check) => check.name).sort();
    expect(failed).toEqual(['efficiency', 'no-repeated-calls', 'states-day']);
  });
});
