import { describe, expect, it } from 'vitest';
import { renderExplain } from '../../src/context/index.ts';
import type { CountedExplainPlan, ExplainPlan } from '../../src/context/index.ts';

const plan: ExplainPlan = { model: 'claude-sonnet-4-6', turn: 3, window: 200_000, reservedOutput: 4096, total: 5120, utilization: 0.0256, warning: false, compaction: false, tokenCounting: 'tokenizer', encoding: 'o200k_base×1.3', segments: [] };

describe('keel explain shows how the input was counted', () => {
  it('prints the exact count beside the estimate, and the reason of a fallback', () => {
    const exact: CountedExplainPlan = { ...plan, inputCount: { method: 'exact', tokens: 5120, estimateTokens: 4870, source: 'count-tokens-endpoint', latencyMs: 41 } };
    expect(renderExplain(exact)).toContain('input-count=exact 5120 (estimate 4870, count-tokens-endpoint)');
    const fallback: CountedExplainPlan = { ...plan, inputCount: { method: 'estimate', tokens: 4870, estimateTokens: 4870, source: 'local-estimate', fallbackReason: 'the count-tokens endpoint failed (model-overloaded: busy); the estimate was used' } };
    expect(renderExplain(fallback)).toContain('input-count=estimate 4870 (estimate 4870, local-estimate)  fallback: the count-tokens endpoint failed');
    expect(renderExplain(plan)).not.toContain('input-count');
  });
});
