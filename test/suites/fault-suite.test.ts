import { describe, expect, it } from 'vitest';
import { faultScenarios } from './fault-scenarios.ts';
import { formatFaultTable, runFaultScenario } from './fault-suite-runner.ts';

// The fault suite at CI size: each fault a few times. `npm run test:faults` runs it at full size (20 runs each).
const runs = Number(process.env.KEEL_FAULT_RUNS ?? 2);

describe('fault suite (reduced)', () => {
  for (const scenario of faultScenarios()) {
    if (scenario.skip !== undefined) {
      it.skip(`${scenario.fault} — skipped: ${scenario.skip}`, () => undefined);
      continue;
    }
    // A scenario that reproduces a known bug in every run is expected to fail until src/ is fixed; one that reproduces
    // it in some runs must show no other problem. Drop the scenario's knownIssue with the fix.
    const known = scenario.knownIssue;
    const test = known?.always === true ? it.fails : it;
    test(`${scenario.fault}: ${scenario.expectedPath} (${scenario.expectedCode ?? 'no error'}), nothing lost, process healthy`, async () => {
      const row = await runFaultScenario(scenario, known?.always === true ? 1 : runs, 1);
      const report = `${formatFaultTable([row])}\n${row.problems.join('\n')}`;
      const unexplained = row.problems.filter((problem) => known === undefined || !known.signature.test(problem));
      expect(unexplained, report).toEqual([]);
      if (known === undefined) {
        expect(row.outcome, report).toBe(scenario.expectedPath);
        expect(row.lostEvents, report).toBe(0);
      }
      expect(row.code, report).toBe(scenario.expectedCode ?? '—');
      expect(row.duplicatedEffects, report).toBe(0);
      expect(row.health?.healthy, report).toBe(true);
    }, 60_000);
  }
});
