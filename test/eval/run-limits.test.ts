import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defineEvalSuite, outputEquals, runEvalSuite } from '../../src/index.ts';
import { ordersAgent, ordersSuite } from '../fixtures/eval/orders-suite.ts';

let folder: string;
let database: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'keel-eval-limits-'));
  database = join(folder, 'keel.db');
});
afterEach(() => rmSync(folder, { recursive: true, force: true }));

describe('eval run counts', () => {
  it('refuses repetitions and concurrency that are not whole numbers in range with invalid-config, before anything is stored', async () => {
    // A billion repetitions used to build the whole work list and end the process out of memory.
    for (const [options, pattern] of [
      [{ repetitions: 1e9 }, /Eval run of suite "orders" repetitions must be a whole number from 1 to 1000, got 1000000000/],
      [{ repetitions: 0 }, /repetitions must be a whole number from 1 to 1000, got 0/],
      [{ repetitions: Number.NaN }, /repetitions must be a whole number from 1 to 1000, got NaN/],
      [{ concurrency: 0 }, /concurrency must be a whole number from 1 to 1000, got 0/],
      [{ concurrency: 2.5 }, /concurrency must be a whole number from 1 to 1000, got 2.5/],
    ] as const) {
      await expect(runEvalSuite(ordersSuite(), { database, env: {}, ...options })).rejects.toMatchObject({ code: 'invalid-config', message: expect.stringMatching(pattern) });
    }
    expect(existsSync(database)).toBe(false);
  });

  it('refuses a suite whose repetitions, judge repetitions or case runs are over their limits', () => {
    const cases = (count: number) => Array.from({ length: count }, (_, index) => ({ id: `case-${index}`, task: 'Say 4.', checks: [outputEquals('4')] }));
    expect(() => defineEvalSuite({ name: 'many', agent: ordersAgent, cases: cases(1), repetitions: 5_000 })).toThrow(/repetitions must be a whole number from 1 to 1000, got 5000/);
    expect(() => defineEvalSuite({ name: 'many', agent: ordersAgent, cases: cases(1), judge: { model: 'judge', repetitions: 50 } })).toThrow(/judge.repetitions must be a whole number from 1 to 20, got 50/);
    expect(() => defineEvalSuite({ name: 'many', agent: ordersAgent, cases: cases(101), repetitions: 1_000 })).toThrow(
      /101 cases × 1000 repetitions is 101000 case runs, over the limit of 100000; select fewer cases \(--case\) or lower the repetitions/,
    );
    expect(defineEvalSuite({ name: 'many', agent: ordersAgent, cases: cases(100), repetitions: 1_000, concurrency: 1_000 }).kind).toBe('keel-eval-suite');
  });

  it('still runs a suite at the edge of the limits it is given', async () => {
    const result = await runEvalSuite(ordersSuite(), { database, env: {}, repetitions: 1, concurrency: 1_000 });
    expect(result.results).toHaveLength(3);
  });
});
