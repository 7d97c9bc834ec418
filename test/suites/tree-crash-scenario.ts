// The crash suite's tree scenario: a tree of three levels (root → 2 managers → 4 workers, each worker charging one
// account) in a child process killed with SIGKILL at seeded random appends across the whole tree, then resumed from
// the root until it ends. Checks that every account was charged exactly once, that every child session exists once
// under the id derived from its parent and call (no second copy), that parents link their children both ways, and
// that every journal is well formed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childSessionId } from '../../src/loop/index.ts';
import { createSqliteStore, validateJournal } from '../../src/store/index.ts';
import type { SessionEvent } from '../../src/spec/index.ts';
import { treeAccounts, treeRegions, treeRootOutput } from '../crash/tree-crash-agents.ts';

const repositoryRoot = fileURLToPath(new URL('../..', import.meta.url));
const childPath = fileURLToPath(new URL('../crash/tree-crash-child.ts', import.meta.url));
export const treeRootSessionId = 'ses_tree_root';

export interface TreeIncarnation {
  readonly mode: 'start' | 'resume';
  /** Appends (over every session of the tree) after which the process killed itself; -1 for none. */
  readonly crashAfter: number;
  readonly killed: boolean;
  readonly appends: number;
}

export interface TreeRunOutcome {
  readonly incarnations: readonly TreeIncarnation[];
  readonly problems: readonly string[];
  readonly charges: number;
  readonly sessions: number;
}

/** Runs one incarnation of the tree's process. */
export function runTreeProcess(directory: string, mode: 'start' | 'resume', crashAfter: number): TreeIncarnation & { readonly stderr: string; readonly status: number | null } {
  const outcome = spawnSync(process.execPath, ['--import', 'tsx', childPath, mode, join(directory, 'keel.db'), join(directory, 'effects'), treeRootSessionId, String(crashAfter)], {
    cwd: repositoryRoot,
    encoding: 'utf8',
    timeout: 60_000,
  });
  const appends = [...outcome.stdout.matchAll(/^BOUNDARY (\d+) /gm)].length;
  return { mode, crashAfter, killed: outcome.signal === 'SIGKILL', appends, stderr: outcome.stderr, status: outcome.status };
}

/**
 * Starts the tree and kills it after each of `kills` appends counts in turn (each counted from that incarnation's
 * start), then resumes it without a kill; returns what the journals and the far end show.
 */
export async function crashAndResumeTree(directory: string, kills: readonly number[]): Promise<TreeRunOutcome> {
  const incarnations: TreeIncarnation[] = [];
  const problems: string[] = [];
  let mode: 'start' | 'resume' = 'start';
  for (const crashAfter of [...kills, -1]) {
    const run = runTreeProcess(directory, mode, crashAfter);
    incarnations.push({ mode: run.mode, crashAfter: run.crashAfter, killed: run.killed, appends: run.appends });
    if (crashAfter === -1 && run.status !== 0) problems.push(`the final ${mode} exited with ${run.status}: ${run.stderr.slice(-2_000)}`);
    if (crashAfter !== -1 && !run.killed && run.status !== 0) problems.push(`${mode} with a kill after ${crashAfter} appends failed instead: ${run.stderr.slice(-2_000)}`);
    mode = 'resume';
  }
  const checked = await checkTree(directory);
  return { incarnations, problems: [...problems, ...checked.problems], charges: checked.charges, sessions: checked.sessions };
}

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((line) => line !== '') : [];
}

/** The invariants of a finished tree. */
export async function checkTree(directory: string): Promise<{ problems: string[]; charges: number; sessions: number }> {
  const problems: string[] = [];
  const store = createSqliteStore({ path: join(directory, 'keel.db') });
  const journals = new Map<string, SessionEvent[]>();
  try {
    for (const summary of await store.journal.listSessions({ limit: 1_000 })) {
      const events: SessionEvent[] = [];
      for await (const event of store.journal.read(summary.sessionId)) events.push(event);
      journals.set(summary.sessionId, events);
    }
  } finally {
    await store.close();
  }
  const managers = treeRegions.map((_, index) => childSessionId(treeRootSessionId, `bill_region_${index + 1}`));
  const workers = managers.flatMap((manager) => [1, 2].map((index) => childSessionId(manager, `bill_account_${index}`)));
  const expected = new Set([treeRootSessionId, ...managers, ...workers]);
  for (const id of journals.keys()) if (!expected.has(id)) problems.push(`session ${id} is not one of the tree's derived ids: a second copy of a child?`);
  for (const id of expected) if (!journals.has(id)) problems.push(`session ${id} of the tree was never started.`);

  for (const [id, events] of journals) {
    for (const problem of validateJournal(events).problems) problems.push(`${id}: ${problem}`);
    const end = events.at(-1);
    if (end?.type !== 'session-end' || end.status !== 'completed') problems.push(`${id} did not complete (last event ${end?.type ?? 'none'}).`);
    const starts = events.filter((event) => event.type === 'child-start');
    const ends = events.filter((event) => event.type === 'child-end');
    for (const start of starts) {
      if (start.type !== 'child-start') continue;
      if (start.childSessionId !== childSessionId(id, start.callId)) problems.push(`${id}: child-start of call ${start.callId} names ${start.childSessionId}, not the derived id.`);
      const child = journals.get(start.childSessionId)?.[0];
      if (child?.type !== 'session-start' || child.parentSessionId !== id) problems.push(`${id}: child ${start.childSessionId} does not name ${id} as its parent.`);
      const matching = ends.filter((event) => event.type === 'child-end' && event.callId === start.callId);
      if (matching.length !== 1) problems.push(`${id}: ${matching.length} child-end events for call ${start.callId}.`);
    }
  }
  const root = journals.get(treeRootSessionId)?.at(-1);
  if (root?.type !== 'session-end' || root.output !== treeRootOutput) problems.push(`the root ended with ${JSON.stringify(root?.type === 'session-end' ? root.output : root?.type)}.`);

  const charges = lines(join(directory, 'effects', 'charges.log'));
  const charged = charges.map((line) => line.split(' ')[1]).sort();
  if (JSON.stringify(charged) !== JSON.stringify([...treeAccounts].sort())) problems.push(`charges applied: ${charged.join(', ')} (expected each of ${treeAccounts.join(', ')} exactly once).`);
  return { problems, charges: charges.length, sessions: journals.size };
}

/** A seeded generator (mulberry32): the same seed gives the same kill points. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface TreeScenarioOptions {
  readonly trees: number;
  readonly seed: number;
  /** Kills per tree before the final, unkilled resume. */
  readonly killsPerTree: number;
  readonly log?: (line: string) => void;
}

export interface TreeScenarioSummary {
  readonly trees: number;
  readonly kills: number;
  readonly completedTrees: number;
  readonly problems: readonly string[];
}

/** The scenario `bench/crash-suite.ts` runs: `trees` trees, each killed `killsPerTree` times at seeded random appends. */
export async function runTreeCrashScenario(options: TreeScenarioOptions): Promise<TreeScenarioSummary> {
  const random = seededRandom(options.seed);
  const scratch = mkdtempSync(join(tmpdir(), 'keel-tree-crash-'));
  const problems: string[] = [];
  let kills = 0;
  let completedTrees = 0;
  try {
    for (let tree = 0; tree < options.trees; tree += 1) {
      // A clean run makes about 70 appends: each kill lands at a random append among those the tree still has to make.
      const points: number[] = [];
      let remaining = 68;
      for (let kill = 0; kill < options.killsPerTree && remaining > 1; kill += 1) {
        const point = 1 + Math.floor(random() * (remaining - 1));
        points.push(point);
        remaining -= point;
      }
      const outcome = await crashAndResumeTree(join(scratch, `tree-${tree}`), points);
      kills += outcome.incarnations.filter((incarnation) => incarnation.killed).length;
      if (outcome.problems.length === 0) completedTrees += 1;
      problems.push(...outcome.problems.map((problem) => `tree ${tree} (kills after ${points.join(', ')} appends): ${problem}`));
      options.log?.(`tree ${tree}: kill points ${points.join(', ')} → ${outcome.incarnations.map((incarnation) => `${incarnation.mode}${incarnation.killed ? `✗${incarnation.appends}` : '✓'}`).join(' ')}; ${outcome.problems.length} problem(s)`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return { trees: options.trees, kills, completedTrees, problems };
}
