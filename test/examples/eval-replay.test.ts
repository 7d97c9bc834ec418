import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareEvalRuns, createEvalRunStore, createSqliteStore, runEvalSuite } from '../../src/index.ts';
import type { EvalRunResult, EvalSuite } from '../../src/index.ts';
import codeReview from '../../examples/code-review/eval.ts';
import research from '../../examples/research/eval.ts';
import { createRecordedResearchModel } from '../../examples/research/recorded-model.ts';
import support from '../../examples/support/eval.ts';

const folder = mkdtempSync(join(tmpdir(), 'keel-example-replay-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** Everything a replay must reproduce: outputs, statuses, tool calls, usage, cost and every check's verdict. */
function fingerprint(run: EvalRunResult): unknown {
  const { run: _id, cassette: _cassette, ...summary } = run.summary;
  return { summary, results: run.results.map(({ runId: _run, sessionId: _session, latencyMs: _latency, ...rest }) => rest) };
}

// Each example suite is recorded into a cassette once, then replayed twice offline: both replays must equal the
// recording bit for bit, so a CI run of `keel eval --replay` reports what the recording did.
describe.each([
  ['code-review', codeReview],
  ['research', research],
  ['support', support],
] as [string, EvalSuite][])('the %s example suite', (name, suite) => {
  it('replays its cassette twice, bit for bit', async () => {
    const database = join(folder, `${name}.db`);
    const recorded = await runEvalSuite(suite, { database, env: {}, cassette: 'record' });
    expect(recorded.summary).toMatchObject({ thresholdMet: true, cassette: 'record', errored: 0 });
    const first = await runEvalSuite(suite, { database, env: {}, cassette: { replay: recorded.runId } });
    const second = await runEvalSuite(suite, { database, env: {}, cassette: { replay: 'latest' } });
    expect(first.summary.cassette).toBe('replay');
    expect(fingerprint(first)).toEqual(fingerprint(recorded));
    expect(fingerprint(second)).toEqual(fingerprint(first));
  });
});

describe('a planted regression in the research example', () => {
  it('is caught by compare: the case and the citation check regressed, nothing else', async () => {
    const database = join(folder, 'research-regression.db');
    const baseline = await runEvalSuite(research, { database, env: {} });
    const regressed = await runEvalSuite({ ...research, model: createRecordedResearchModel({ regression: true }) }, { database, env: {} });
    expect(regressed.summary).toMatchObject({ thresholdMet: false, passed: 1, failed: 1 });
    const failed = regressed.results.find((result) => result.caseId === 'crash-safety')?.checks.find((check) => check.name === 'cites-retrieved-sources');
    expect(failed).toMatchObject({ passed: false, detail: expect.stringContaining('Cites [doc-sagas], never retrieved in this run') });
    const store = createSqliteStore({ path: database });
    try {
      const runs = createEvalRunStore(store.database);
      const comparison = compareEvalRuns({ run: runs.run(baseline.runId), results: runs.results(baseline.runId) }, { run: runs.run(regressed.runId), results: runs.results(regressed.runId) });
      expect(comparison.regressions).toBe(1);
      const crash = comparison.cases.find((entry) => entry.caseId === 'crash-safety');
      expect(crash?.outcome.verdict).toBe('regressed');
      expect(crash?.checks.filter((check) => check.verdict === 'regressed').map((check) => check.name)).toEqual(['cites-retrieved-sources', 'covers-leases']);
      expect(comparison.cases.find((entry) => entry.caseId === 'multi-agent-safety')?.outcome.verdict).toBe('unchanged');
    } finally {
      await store.close();
    }
  });
});
