import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { main } from '../../src/cli/main.ts';
import { defineAgent, defineTool } from '../../src/index.ts';
import type { EvalCheckContext } from '../../src/index.ts';
import { createBubblewrapRunner } from '../../src/sandbox/index.ts';
import { createCodeReview } from './agent.ts';
import { recordedComments } from './recorded-model.ts';
import { parseReview, readOnlyReview, writeToolsOf } from './review-checks.ts';
import { createReviewTools, exampleChange } from './review-tools.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-code-review-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const change = exampleChange();
const toolContext = { signal: new AbortController().signal, idempotencyKey: 'test' } as never;
const bubblewrapWorks = await createBubblewrapRunner().available();

/** The lines the diff adds to each file, by their line number in the file after the change. */
function addedLines(diff: string): Map<string, Map<number, string>> {
  const added = new Map<string, Map<number, string>>();
  let file = '';
  let line = 0;
  for (const text of diff.split('\n')) {
    const header = /^\+\+\+ b\/(.+)$/.exec(text);
    const hunk = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(text);
    if (header !== null) file = header[1] ?? '';
    else if (hunk !== null) line = Number(hunk[1]);
    else if (text.startsWith('+')) (added.get(file) ?? added.set(file, new Map()).get(file))?.set(line++, text.slice(1));
    else if (!text.startsWith('-')) line += 1;
  }
  return added;
}

describe('the reviewed change', () => {
  it('is a real diff whose added lines hold the three planted problems at the lines the suite expects', () => {
    const added = addedLines(change.diff);
    for (const comment of Object.values(recordedComments)) {
      const fileLines = readFileSync(join(change.repository, comment.file), 'utf8').split('\n');
      expect(added.get(comment.file)?.get(comment.line)).toBe(fileLines[comment.line - 1]);
    }
    expect(added.get('src/orders.mjs')?.get(3)).toContain("AND status = '${status}'");
    expect(added.get('src/orders.mjs')?.get(12)).toContain('orders.filter(');
    expect(added.get('src/pagination.mjs')?.get(4)).toContain('start + size - 1');
  });
});

describe('the review tools', () => {
  const tools = createReviewTools(change);

  it('read files with line numbers inside the repository only, and grep literal text', async () => {
    expect(await tools.readFile.execute({ path: 'src/pagination.mjs' }, toolContext)).toContain('4|   const end = start + size - 1;');
    await expect(Promise.resolve().then(() => tools.readFile.execute({ path: '../agent.ts' }, toolContext))).rejects.toMatchObject({ code: 'invalid-argument' });
    expect(await tools.grep.execute({ text: 'orders.filter' }, toolContext)).toBe('src/orders.mjs:12: const own = orders.filter((other) => other.customer === order.customer);');
    // A regular expression's syntax is plain text to grep: nothing can make it backtrack.
    expect(await tools.grep.execute({ text: '(a+)+$' }, toolContext)).toBe('No line contains "(a+)+$".');
  });

  it.skipIf(!bubblewrapWorks)("run the repository's tests in the sandbox: the off-by-one fails its test", async () => {
    const result = (await tools.runTests.execute({}, toolContext)) as { exitCode: number; passed: boolean; report: string };
    expect(result).toMatchObject({ exitCode: 1, passed: false });
    expect(result.report).toContain('not ok 3 - page returns whole pages and a partial last page');
    expect(result.report).toContain('# pass 3');
  });

  it('are all read-only, and a tree holding a write tool fails the read-only check', async () => {
    const { lead, reviewers } = createCodeReview(change);
    expect(writeToolsOf(lead)).toEqual([]);
    expect([...reviewers.correctness.tools.keys()]).toEqual(['show_diff', 'read_file', 'grep', 'run_tests']);
    const writeFile = defineTool({ name: 'write_file', description: 'Writes a file.', input: z.object({ path: z.string() }), risk: 'write', idempotent: true, execute: () => 'written' });
    const unsafe = defineAgent({ name: 'unsafe-lead', instructions: 'Review.', tools: [...lead.tools.values(), writeFile], limits: { maxTurns: 2 } });
    const outcome = await readOnlyReview(unsafe).evaluate({ toolCalls: [] } as unknown as EvalCheckContext);
    expect(outcome).toMatchObject({ passed: false, detail: 'Tools that are not read-only: unsafe-lead.write_file.' });
  });

  it('parse a review only when it is line comments', () => {
    expect(parseReview('```json\n{"comments":[{"file":"a.mjs","line":1,"severity":"low","message":"x"}]}\n```')?.comments).toHaveLength(1);
    expect(parseReview('{"comments":[{"file":"a.mjs","line":0,"severity":"low","message":"x"}]}')).toBeNull();
    expect(parseReview('Looks good to me.')).toBeNull();
  });
});

describe('code review eval suite', () => {
  it('passes offline through keel eval --json: the three planted problems found at their lines by three reviewers', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(['eval', join(import.meta.dirname, 'eval.ts'), '--json', '--db', join(scratch, 'eval.db')], { out: (line) => out.push(line), err: (line) => err.push(line), env: {}, cwd: scratch });
    expect(err.join('\n')).not.toMatch(/error/i);
    expect(code).toBe(0);
    const summary = JSON.parse(out.at(-1) ?? '{}') as Record<string, unknown>;
    expect(summary).toMatchObject({ suite: 'code-review', cases: 1, passed: 1, errored: 0, thresholdMet: true });
    for (const check of ['finds-sql-injection', 'finds-quadratic-loop', 'finds-off-by-one', 'every-reviewer-ran', 'read-only-tools', 'called:run_tests']) {
      expect(summary.checks).toHaveProperty([check], { passed: 1, total: 1, rate: 1 });
    }
  });
});
