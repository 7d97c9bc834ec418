import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';

const fixtures = resolve(import.meta.dirname, '../fixtures/eval');
let folder: string;
let database: string;

async function keel(args: readonly string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...args, '--db', database], { out: (line) => out.push(line), err: (line) => err.push(line), env: {}, cwd: folder });
  return { code, out, err };
}

function lastJson(lines: readonly string[]): Record<string, unknown> {
  return JSON.parse(lines.at(-1) ?? '{}') as Record<string, unknown>;
}

describe('keel eval', () => {
  let baseline: string;
  let regressed: string;
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'keel-eval-cli-'));
    database = join(folder, 'keel.db');
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('runs a suite with --json --record: one JSON line, exit 0 when the thresholds are met', async () => {
    const { code, out } = await keel(['eval', join(fixtures, 'orders-suite.ts'), '--json', '--record', '--report', 'report.html']);
    expect(code).toBe(0);
    expect(out).toHaveLength(1);
    const summary = lastJson(out);
    expect(summary).toMatchObject({ suite: 'orders', cases: 3, passed: 3, passRate: 1, thresholdMet: true, cassette: 'record', report: join(folder, 'report.html') });
    expect(readFileSync(join(folder, 'report.html'), 'utf8')).toContain('<svg');
    baseline = summary.run as string;
  });

  it('replays the latest recording offline with --replay', async () => {
    const { code, out } = await keel(['eval', 'run', join(fixtures, 'orders-suite.ts'), '--json', '--replay']);
    expect(code).toBe(0);
    expect(lastJson(out)).toMatchObject({ passed: 3, cassette: 'replay' });
  });

  it('still ends --json with the summary line when a replay does not match its cassette, and exits 1', async () => {
    const { code, out, err } = await keel(['eval', join(fixtures, 'orders-changed-suite.ts'), '--json', '--replay', baseline]);
    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(/keel: cassette-mismatch: Replay of case run [\w-]+#1[\s\S]*\+ {3}"system": "Answer questions about orders\. Be brief\./);
    expect(out).toHaveLength(1);
    expect(lastJson(out)).toMatchObject({ suite: 'orders', cassette: 'replay', thresholdMet: false, error: { code: 'cassette-mismatch' } });
  });

  it('exits 1 when a threshold is missed and points at the failed case\'s trace', async () => {
    const { code, out } = await keel(['eval', join(fixtures, 'orders-regression-suite.ts'), '--case', 'where-is', '--case', 'refund']);
    expect(code).toBe(1);
    const text = out.join('\n');
    expect(text).toMatch(/✗ where-is #1 {2}1\/4 checks/);
    expect(text).toMatch(/✗ states-day: Output does not match/);
    expect(text).toMatch(/trace: keel trace evr_\w+-where-is-1 --db /);
    expect(text).toMatch(/threshold missed: pass rate 50\.0 % is below 100\.0 %/);
    regressed = /Run (evr_\w+) of orders/.exec(text)?.[1] ?? '';
    expect(regressed).not.toBe('');
  });

  it('compares two runs and exits 1 on a regression', async () => {
    const { code, out } = await keel(['eval', 'compare', baseline, regressed]);
    expect(code).toBe(1);
    expect(out.join('\n')).toMatch(/where-is: REGRESSED 1\/1 → 0\/1 \(p = 1\.000\)/);
    // injected-inbox ran only in the baseline.
    expect(out.join('\n')).toMatch(/injected-inbox: removed/);
    const json = await keel(['eval', 'compare', baseline, baseline, '--json']);
    expect(json.code).toBe(0);
    expect(lastJson(json.out)).toMatchObject({ regressions: 0, runA: baseline, runB: baseline });
  });

  it('writes a stored run\'s report and lists runs', async () => {
    const report = await keel(['eval', 'report', regressed, '--out', 'regressed.html', '--server-url', 'http://127.0.0.1:8080']);
    expect(report.code).toBe(0);
    const html = readFileSync(join(folder, 'regressed.html'), 'utf8');
    expect(html).toContain(`href="http://127.0.0.1:8080/sessions/${regressed}-where-is-1"`);
    const runs = await keel(['eval', 'runs', '--json']);
    expect(runs.out.map((line) => (JSON.parse(line) as { runId: string }).runId)).toContain(baseline);
    expect(runs.out).toHaveLength(4);
  });

  it('refuses --record with --replay, an unknown case and an unknown run as usage errors', async () => {
    expect((await keel(['eval', join(fixtures, 'orders-suite.ts'), '--record', '--replay'])).code).toBe(2);
    const unknownCase = await keel(['eval', join(fixtures, 'orders-suite.ts'), '--case', 'nope']);
    expect(unknownCase.code).toBe(2);
    expect(unknownCase.err.join('\n')).toMatch(/has no case nope; its cases are where-is, refund, injected-inbox/);
    expect((await keel(['eval', 'report', 'evr_missing'])).err.join('\n')).toMatch(/No eval run evr_missing/);
    expect(existsSync(join(folder, 'eval-evr_missing.html'))).toBe(false);
  });
});
