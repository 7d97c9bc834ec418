import { describe, expect, it } from 'vitest';
import { crashSuitePassed, formatCrashSummary, runCrashSuite } from './crash-suite-runner.ts';

// The crash suite at CI size: `npm run test:crash` runs it at full size (500 sessions).
const sessions = Number(process.env.KEEL_CRASH_SESSIONS ?? 40);

describe('crash suite (reduced)', () => {
  it(`runs ${sessions} sessions through repeated SIGKILLs: all complete, no duplicated side effect, no lost event`, async () => {
    const summary = await runCrashSuite({ sessions, seed: 7, concurrency: 10, kills: 4 });
    const report = `${formatCrashSummary(summary)}\n${summary.problems.slice(0, 20).join('\n')}`;
    expect(summary.problems, report).toEqual([]);
    expect(summary.kills, report).toBeGreaterThanOrEqual(3);
    expect(summary.resumedSessions, report).toBeGreaterThan(0);
    expect(summary.completed, report).toBe(sessions);
    expect(summary.duplicatedEffects, report).toBe(0);
    expect(summary.reExecutionsAfterResult, report).toBe(0);
    expect(summary.reExecutionsAfterRecordedOutcome, report).toBe(0);
    expect(summary.lostEvents, report).toBe(0);
    expect(summary.effectsApplied, report).toBe(sessions * 6);
    expect(crashSuitePassed(summary)).toBe(true);
  }, 180_000);
});
