import { describe, expect, it } from 'vitest';
import { firstFenceBody, wholeFenceBody } from '../../src/eval/code-fence.ts';
import { outputMatchesSchema, parseJudgeAnswer } from '../../src/index.ts';
import type { EvalCheckContext } from '../../src/index.ts';

// The patterns the scans replace: on short texts they must agree with them exactly.
const firstFencePattern = /```(?:json)?\s*\n([^`]*)```/;
const wholeFencePattern = /^```(?:json)?\s*\n([\s\S]*?)\n?```$/;

/** Deterministic texts built from the pieces that matter to a fence. */
function* texts(count: number): Generator<string> {
  const pieces = ['```', '`', 'json', '\n', ' ', '\t', '\r\n', '{', '}', 'x', '"a"'];
  let seed = 12_345;
  const next = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed;
  };
  for (let index = 0; index < count; index += 1) {
    const length = next() % 12;
    let text = '';
    for (let piece = 0; piece < length; piece += 1) text += pieces[next() % pieces.length];
    yield text;
  }
}

describe('code fences in model answers', () => {
  it('finds the same fence body as the regular expressions did, on thousands of short texts', () => {
    for (const text of texts(20_000)) {
      expect(firstFenceBody(text), JSON.stringify(text)).toBe(firstFencePattern.exec(text)?.[1] ?? null);
      expect(wholeFenceBody(text), JSON.stringify(text)).toBe(wholeFencePattern.exec(text)?.[1] ?? null);
    }
  });

  it('reads a fenced, a json-tagged and a prose-wrapped answer', () => {
    expect(firstFenceBody('Verdict:\n```json\n{"score": 1}\n```\nThanks')).toBe('{"score": 1}\n');
    expect(firstFenceBody('use `x` then ```\n{}\n```')).toBe('{}\n');
    expect(firstFenceBody('``` not a fence ```')).toBeNull();
    expect(wholeFenceBody('```json\n{"a": 1}\n```')).toBe('{"a": 1}');
    expect(wholeFenceBody('{"a": 1}')).toBeNull();
  });

  it('answers at once for an answer of a fence and 50,000 line breaks, where the regular expression backtracked for seconds', () => {
    const text = '```' + '\n'.repeat(49_990) + 'y';
    expect(firstFenceBody(text)).toBeNull();
    expect(wholeFenceBody(text)).toBeNull();
    const verdict = parseJudgeAnswer(text, 0.5);
    expect(verdict.error?.code).toBe('model-malformed-response');
    expect(verdict.error?.message).toContain('no JSON object');
  });

  it('a judge answer of newlines around a fenced verdict is still read', () => {
    const verdict = parseJudgeAnswer('```json' + '\n'.repeat(40_000) + '{"reasoning": "fine", "score": 0.9}```', 0.5);
    expect(verdict).toMatchObject({ score: 0.9, passed: true, reasoning: 'fine' });
  });

  it('outputMatchesSchema reads an unclosed fence of 100,000 line breaks without backtracking', async () => {
    const check = outputMatchesSchema({ type: 'object' });
    const context = { output: '```json' + '\n'.repeat(100_000) + 'x', status: 'completed' } as unknown as EvalCheckContext;
    const outcome = await check.evaluate(context);
    expect(outcome.passed).toBe(false);
    expect(outcome.detail).toContain('Output is not JSON');
    const fenced = await check.evaluate({ ...context, output: '```json\n' + ' '.repeat(500_000) + '{"ok": true}\n```' });
    expect(fenced.passed).toBe(true);
  });
});
