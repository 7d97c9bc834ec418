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
    // A scenario that reproduces a known bug is expected to fail until src/ is fixed; then drop its knownIssue.
    const test = scenario.knownIssue === undefined ? it : it.fails;
    test(`${scenario.fault}: ${scenario.expectedPath} (${scenario.expectedCode ?? 'no error'}), nothing lost, process healthy`, async () => {
      const row = await runFaultScenario(scenario, scenario.knownIssue === undefined ? runs : 1, 1);
      const report = `${formatFaultTable([row])}\n${row.problems.join('\n')}`;
      expect(row.problems, report).toEqual([]);
      expect(row.outcome, report).toBe(scenario.expectedPath);
      expect(row.code, report).toBe(scenario.expectedCode ?? '—');
      expect(row.lostEvents, report).toBe(0);
      expect(row.duplicatedEffects, report).toBe(0);
      expect(row.health?.healthy, report).toBe(true);
    }, 60_000);
  }
});
