import { describe, expect, it } from 'vitest';
import { costOf, findPrice, anthropicPrices, openAIPrices } from './pricing.ts';

const usage = (inputTokens: number, outputTokens: number, cacheReadTokens = 0, cacheWriteTokens = 0) => ({ inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens });

describe('costOf', () => {
  it('prices every token kind at its own rate', () => {
    // 1M of each on Haiku 4.5: $1 input + $5 output + $0.10 cache read + $1.25 cache write.
    expect(costOf('anthropic', 'claude-haiku-4-5', usage(1_000_000, 1_000_000, 1_000_000, 1_000_000))).toBeCloseTo(7.35, 10);
    expect(costOf('openai', 'gpt-4o', usage(1_000_000, 1_000_000, 1_000_000))).toBeCloseTo(2.5 + 10 + 1.25, 10);
    expect(costOf('openai', 'gpt-4o-mini', usage(2_000, 500))).toBeCloseTo((2_000 * 0.15 + 500 * 0.6) / 1e6, 12);
  });

  it('resolves dated and -latest ids to their family', () => {
    expect(costOf('anthropic', 'claude-sonnet-4-5-20250929', usage(100_000, 0))).toBe(0.3);
    expect(costOf('anthropic', 'claude-3-7-sonnet-latest', usage(100_000, 0))).toBe(0.3);
    expect(costOf('anthropic', 'claude-haiku-4-5-20251001', usage(0, 1_000_000))).toBe(5);
    expect(costOf('openai', 'gpt-4o-2024-08-06', usage(1_000_000, 0))).toBe(2.5);
    expect(costOf('openai', 'gpt-4.1-mini-2025-04-14', usage(1_000_000, 0))).toBe(0.4);
  });

  it('picks the longest matching family, so a mini is not priced as its big sibling', () => {
    expect(findPrice(openAIPrices, 'gpt-4o-mini-2024-07-18')).toBe(openAIPrices['gpt-4o-mini']);
    expect(findPrice(openAIPrices, 'gpt-5-mini')).toBe(openAIPrices['gpt-5-mini']);
    expect(findPrice(anthropicPrices, 'claude-opus-4-1-20250805')).toBe(anthropicPrices['claude-opus-4-1']);
  });

  it('never guesses: other variants and unknown models have no price', () => {
    expect(costOf('openai', 'o3-pro', usage(1, 1))).toBeNull();
    expect(costOf('openai', 'gpt-5-nano', usage(1, 1))).toBeNull();
    expect(costOf('anthropic', 'claude-sonnet-4-7', usage(1, 1))).toBeNull();
    expect(costOf('anthropic', 'gpt-4o', usage(1, 1))).toBeNull();
    expect(costOf('openai-compatible', 'llama3.1:8b', usage(1, 1))).toBeNull();
  });

  it('charges long-context rates on every token once the prompt passes the threshold', () => {
    const short = costOf('anthropic', 'claude-sonnet-4-5', usage(200_000, 1_000_000));
    const long = costOf('anthropic', 'claude-sonnet-4-5', usage(150_000, 1_000_000, 50_001));
    expect(short).toBeCloseTo(0.6 + 15, 10);
    expect(long).toBeCloseTo(0.9 + 22.5 + 50_001 * 0.6 / 1e6, 10);
  });

  it('prices scripted responses by the model they name', () => {
    expect(costOf('scripted', 'claude-sonnet-4-5', usage(100_000, 0))).toBe(0.3);
    expect(costOf('scripted', 'gpt-4.1', usage(1_000_000, 0))).toBe(2);
    expect(costOf('scripted', 'scripted', usage(1_000_000, 0))).toBeNull();
  });

  it('lets overrides price any model, ahead of the table', () => {
    const overrides = { 'llama3.1': { input: 0.1, output: 0.2, cacheRead: 0, cacheWrite: 0 }, 'gpt-4o': { input: 1, output: 1, cacheRead: 1, cacheWrite: 1 } };
    expect(costOf('openai-compatible', 'llama3.1', usage(1_000_000, 1_000_000), overrides)).toBeCloseTo(0.3, 10);
    expect(costOf('openai', 'gpt-4o-2024-08-06', usage(1_000_000, 0), overrides)).toBe(1);
  });
});
