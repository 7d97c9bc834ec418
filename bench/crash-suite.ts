// `npm run test:crash`: the crash suite at full size. A worker process runs many sessions with side-effecting tools
// against one SQLite journal and is killed with SIGKILL at seeded random points, then restarted (resuming every open
// session) until all sessions have ended. Prints one summary table; exits 1 unless every session completed with no
// duplicated side effect and no lost event.
//
//   node --import tsx bench/crash-suite.ts [--sessions 500] [--seed 1] [--concurrency 20] [--kills N] [--kill-mode mixed|appends|time] [--keep DIR] [--verbose]
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { crashSuitePassed, formatCrashSummary, runCrashSuite } from '../test/suites/crash-suite-runner.ts';
import type { KillMode } from '../test/suites/crash-suite-runner.ts';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '500' },
    seed: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '20' },
    kills: { type: 'string' },
    'kill-mode': { type: 'string', default: 'mixed' },
    keep: { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
});

const killMode = values['kill-mode'];
if (killMode !== 'mixed' && killMode !== 'appends' && killMode !== 'time') throw new Error(`--kill-mode must be mixed, appends or time, got ${killMode}`);
const positiveInteger = (name: string, text: string): number => {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got ${text}`);
  return value;
};

const summary = await runCrashSuite({
  sessions: positiveInteger('sessions', values.sessions),
  seed: Number(values.seed),
  concurrency: positiveInteger('concurrency', values.concurrency),
  ...(values.kills === undefined ? {} : { kills: Number(values.kills) }),
  killMode: killMode as KillMode,
  ...(values.keep === undefined ? {} : { directory: values.keep }),
  log: values.verbose ? (line) => console.error(line) : () => undefined,
});

console.log(`Crash suite: ${summary.sessions} sessions, seed ${summary.seed}, Node ${process.version}, ${cpus().length} cores\n`);
console.log(formatCrashSummary(summary));
console.log(`\nKill points (incarnation: mode planned → appends acknowledged before death): ${summary.killPoints.map((point) => `${point.incarnation}: ${point.mode} ${point.planned}${point.mode === 'time' ? ' ms' : ''} → ${point.appendsBeforeDeath}`).join('; ')}`);
const passed = crashSuitePassed(summary);
if (!passed) {
  console.log(`\nMISSES (${summary.problems.length}):`);
  for (const problem of summary.problems.slice(0, 50)) console.log(`- ${problem}`);
}
console.log(`\n${passed ? 'PASS' : 'FAIL'}: completed ${summary.completed}/${summary.sessions}, duplicated side effects ${summary.duplicatedEffects}, events lost ${summary.lostEvents}.`);
process.exitCode = passed ? 0 : 1;
