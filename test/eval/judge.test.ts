import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAnthropicModel, judgeRubric, parseJudgeAnswer, runEvalSuite } from '../../src/index.ts';
import type { EvalCaseResult } from '../../src/index.ts';
import { startMockAnthropicServer } from '../../src/testing/index.ts';
import type { AnthropicMockReply } from '../../src/testing/mock-anthropic-server.ts';
import { ordersSuite } from '../fixtures/eval/orders-suite.ts';

let folder: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'keel-eval-judge-'));
});
afterEach(() => rmSync(folder, { recursive: true, force: true }));

const verdict = (score: number, pass: boolean, reasoning: string): AnthropicMockReply => ({
  content: [{ type: 'text', text: JSON.stringify({ reasoning, score, pass }) }],
  model: 'claude-haiku-4-5',
  usage: { input_tokens: 300, output_tokens: 40 },
});

/** Runs the fixture suite's where-is case with a judge served by the mock Anthropic server; returns the judged result. */
async function judgedRun(script: (body: unknown, index: number) => AnthropicMockReply): Promise<{ result: EvalCaseResult; requests: number; judgeCostUsd: number | null }> {
  const server = await startMockAnthropicServer({ script });
  try {
    const judge = createAnthropicModel({ modelId: 'claude-haiku-4-5', baseURL: server.baseURL, apiKey: 'test-key' });
    const { results, summary } = await runEvalSuite(ordersSuite({ judge: 'judge' }), { database: join(folder, 'keel.db'), env: {}, models: { judge }, cases: ['where-is'] });
    return { result: results[0] as EvalCaseResult, requests: server.requests.length, judgeCostUsd: summary.judgeCostUsd };
  } finally {
    await server.close();
  }
}

describe('judgeRubric against the mock provider', () => {
  it('judges three times, passes on the majority, keeps every reasoning and reports agreement and cost', async () => {
    const replies = [verdict(0.9, true, 'Names the shipping day.'), verdict(0.8, true, 'Correct and short.'), verdict(0.3, false, 'Does not say when it arrives.')];
    const { result, requests, judgeCostUsd } = await judgedRun((_body, index) => replies[index] as AnthropicMockReply);
    expect(requests).toBe(3);
    const check = result.checks.find((entry) => entry.name === 'helpful');
    expect(check).toMatchObject({ kind: 'judge', passed: true });
    expect(check?.score).toBeCloseTo((0.9 + 0.8 + 0.3) / 3, 10);
    expect(check?.judge?.agreement).toBeCloseTo(2 / 3, 10);
    expect(check?.judge?.model).toBe('anthropic:claude-haiku-4-5');
    expect(check?.judge?.verdicts.map((entry) => entry.reasoning)).toEqual(['Names the shipping day.', 'Correct and short.', 'Does not say when it arrives.']);
    expect(check?.detail).toMatch(/2 of 3 verdicts pass, agreement 67 %/);
    expect(judgeCostUsd).toBeGreaterThan(0);
  });

  it('records a judge that answers malformed output as a failed check with the error and the raw text, and the run goes on', async () => {
    const { result } = await judgedRun(() => ({ content: [{ type: 'text', text: 'Looks great to me!' }], model: 'claude-haiku-4-5' }));
    const check = result.checks.find((entry) => entry.name === 'helpful');
    expect(check).toMatchObject({ passed: false, error: { code: 'model-malformed-response' } });
    expect(check?.judge?.failures).toBe(3);
    expect(check?.judge?.verdicts[0]?.raw).toBe('Looks great to me!');
    // The other checks of the case still ran and passed.
    expect(result.checks.filter((entry) => entry.name !== 'helpful').every((entry) => entry.passed)).toBe(true);
  });

  it('records a judge call the provider refuses as a failed judging, not a crash', async () => {
    const { result } = await judgedRun(() => ({ fault: 'bad-request', message: 'max_tokens: too large' }));
    const check = result.checks.find((entry) => entry.name === 'helpful');
    expect(check).toMatchObject({ passed: false, error: { code: 'model-bad-request' } });
  });
});

describe('parseJudgeAnswer', () => {
  it('accepts the JSON alone, fenced or inside prose, and refuses everything else with a reason', () => {
    expect(parseJudgeAnswer('{"reasoning":"ok","score":0.7,"pass":true}', 0.5)).toEqual({ score: 0.7, passed: true, reasoning: 'ok' });
    expect(parseJudgeAnswer('Here:\n```json\n{"reasoning":"meh","score":0.4}\n```', 0.5)).toEqual({ score: 0.4, passed: false, reasoning: 'meh' });
    expect(parseJudgeAnswer('Verdict: {"reasoning":"fine","score":0.6} done', 0.5).passed).toBe(true);
    expect(parseJudgeAnswer('{"reasoning":"x","score":7}', 0.5).error?.message).toMatch(/"score" must be a number from 0 to 1/);
    expect(parseJudgeAnswer('{"score":0.5}', 0.5).error?.message).toMatch(/"reasoning"/);
    expect(parseJudgeAnswer('{"reasoning":"x","score":0.5,"pass":"yes"}', 0.5).error?.message).toMatch(/"pass"/);
    expect(parseJudgeAnswer('{not json}', 0.5).error?.message).toMatch(/does not parse/);
    expect(parseJudgeAnswer('[1,2]', 0.5).error?.code).toBe('model-malformed-response');
    // A huge answer is searched only in its first 50,000 characters, whatever it holds.
    expect(parseJudgeAnswer(`${'{'.repeat(200_000)}`, 0.5).error?.code).toBe('model-malformed-response');
  });

  it('refuses a judge check without a rubric', () => {
    expect(() => judgeRubric({ name: 'empty', rubric: '  ' })).toThrow(/needs a rubric/);
  });
});
