import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { crashAndResumeTree } from '../suites/tree-crash-scenario.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-tree-crash-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('crash and resume across a tree of three levels', () => {
  // Kill points across the tree's life (a clean run makes about 70 appends): while the managers start their workers,
  // while workers charge and end, and twice in a row. The crash suite (`npm run test:crash`) adds seeded random ones.
  it.each([[[9]], [[38]], [[16, 27]]])('SIGKILL after %j appends, then resume from the root: each charge once, no child twice', async (kills) => {
    const directory = join(scratch, `kill-${kills.join('-')}`);
    const outcome = await crashAndResumeTree(directory, kills);
    expect(outcome.incarnations.slice(0, -1).every((incarnation) => incarnation.killed)).toBe(true);
    expect(outcome.problems).toEqual([]);
    expect(outcome).toMatchObject({ charges: 4, sessions: 7 });
  });
});
