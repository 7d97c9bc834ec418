// `npm run test:crash`: the crash suite at full size. A worker process runs many sessions with side-effecting tools
// against one SQLite journal and is killed with SIGKILL at seeded random points, then restarted (resuming every open
// session) until all sessions have ended. Prints one summary table; exits 1 unless every session completed with no
// duplicated side effect and no lost event.
//
//   node --import tsx bench/crash-suite.ts [--sessions 500] [--seed 1] [--concurrency 20] [--kills N] [--kill-mode mixed|appends|time] [--keep DIR] [--verbose] [--trees 10] [--tree-kills 2]
//
// Then the tree scenario (test/suites/tree-crash-scenario.ts): trees of three levels of subagents killed at seeded
// random appends and resumed from the root; every account charged once, no child session started twice.
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { crashSuitePassed, formatCrashSummary, runCrashSuite } from '../test/suites/crash-suite-runner.ts';
import type { KillMode } from '../test/suites/crash-suite-runner.ts';
import { runTreeCrashScenario } from '../test/suites/tree-crash-scenario.ts';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '500' },
    seed: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '20' },
    kills: { type: 'string' },
    'kill-mode': { type: 'string', default: 'mixed' },
    keep: { type: 'string' },
    verbose: { type: 'boolean', default: false },
    trees: { type: 'string', default: '10' },
    'tree-kills': { type: 'string', default: '2' },
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
const flatPassed = crashSuitePassed(summary);
if (!flatPassed) {
  console.log(`\nMISSES (${summary.problems.length}):`);
  for (const problem of summary.problems.slice(0, 50)) console.log(`- ${problem}`);
}
console.log(`\n${flatPassed ? 'PASS' : 'FAIL'}: completed ${summary.completed}/${summary.sessions}, duplicated side effects ${summary.duplicatedEffects}, events lost ${summary.lostEvents}.`);

const trees = await runTreeCrashScenario({
  trees: positiveInteger('trees', values.trees),
  seed: Number(values.seed),
  killsPerTree: positiveInteger('tree-kills', values['tree-kills']),
  log: values.verbose ? (line) => console.error(line) : () => undefined,
});
const treesPassed = trees.problems.length === 0 && trees.completedTrees === trees.trees;
console.log(`\nTree scenario (root → 2 subagents → 4 subagents, each charging once): ${trees.trees} trees, ${trees.kills} SIGKILLs`);
for (const problem of trees.problems.slice(0, 50)) console.log(`- ${problem}`);
console.log(`${treesPassed ? 'PASS' : 'FAIL'}: ${trees.completedTrees}/${trees.trees} trees completed with every charge once and no child session twice.`);
process.exitCode = flatPassed && treesPassed ? 0 : 1;
