import { describe, expect, it } from 'vitest';
import { isKeelError } from '../../src/errors/index.ts';
import { anthropicCalibrationFactor, createTokenCounter, encodingForModel } from '../../src/context/token-counter.ts';
import { checkFits, lookupModelWindow } from '../../src/context/model-windows.ts';
import { resolveBudgets } from '../../src/context/budgets.ts';

describe('token counting', () => {
  it('matches known tiktoken counts (OpenAI cookbook examples and hand-checked strings)', () => {
    const o200k = createTokenCounter({ provider: 'openai', modelId: 'gpt-4o' });
    const cl100k = createTokenCounter({ provider: 'openai', modelId: 'gpt-4-0613' });
    expect(o200k.encoding).toBe('o200k_base');
    expect(cl100k.encoding).toBe('cl100k_base');
    expect(o200k.method).toBe('tokenizer');
    // "tiktoken is great!" is 6 tokens in cl100k_base (OpenAI cookbook, How to count tokens with tiktoken).
    expect(cl100k.count('tiktoken is great!')).toBe(6);
    expect(o200k.count('tiktoken is great!')).toBe(6);
    expect(o200k.count('hello world')).toBe(2);
    expect(o200k.count('The quick brown fox jumps over the lazy dog.')).toBe(10);
    expect(o200k.count('')).toBe(0);
    // Special tokens in data are counted as text, never as one control token.
    expect(o200k.count('<|endoftext|>')).toBeGreaterThan(1);
  });

  it('picks encodings by model id', () => {
    expect(encodingForModel('openai', 'gpt-4.1-mini')).toEqual({ encoding: 'o200k_base', exact: true });
    expect(encodingForModel('openai', 'o3-mini')).toEqual({ encoding: 'o200k_base', exact: true });
    expect(encodingForModel('openai', 'gpt-5')).toEqual({ encoding: 'o200k_base', exact: true });
    expect(encodingForModel('openai', 'gpt-3.5-turbo')).toEqual({ encoding: 'cl100k_base', exact: true });
    expect(encodingForModel('anthropic', 'claude-sonnet-4-5')).toEqual({ encoding: 'o200k_base', exact: false });
  });

  it('estimates Anthropic counts as o200k × the calibration factor, and says it is an estimate', () => {
    // Factor 1.3 = upper end of published Claude-vs-GPT-4o overheads (+16 % prose, +21 % math, +30 % code):
    // stated error 0 % to +12 % against those figures; not measured against count_tokens here (no key, no network).
    const claude = createTokenCounter({ provider: 'anthropic', modelId: 'claude-sonnet-4-5' });
    const o200k = createTokenCounter({ provider: 'openai', modelId: 'gpt-4o' });
    expect(claude.method).toBe('estimate');
    expect(anthropicCalibrationFactor).toBe(1.3);
    const text = 'Context windows are a hard constraint on what the model can reason about simultaneously. '.repeat(20);
    expect(claude.count(text)).toBe(Math.ceil(o200k.count(text) * 1.3));
  });

  it('caches counts in a bounded LRU', () => {
    const counter = createTokenCounter({ provider: 'openai', modelId: 'gpt-4o', cacheSize: 3 });
    for (const text of ['a', 'b', 'c', 'd', 'x'.repeat(100), 'a']) counter.count(text);
    expect(counter.cacheEntries).toBe(3);
  });
});

describe('model windows and fitting', () => {
  it('uses the longest prefix and a configurable default', () => {
    expect(lookupModelWindow('claude-sonnet-4-5-20250929').contextWindow).toBe(200_000);
    expect(lookupModelWindow('gpt-4o-mini-2024-07-18')).toMatchObject({ contextWindow: 128_000, prefix: 'gpt-4o' });
    expect(lookupModelWindow('gpt-4.1-nano').contextWindow).toBe(1_047_576);
    expect(lookupModelWindow('gpt-4-0613')).toMatchObject({ contextWindow: 8_192, prefix: 'gpt-4' });
    expect(lookupModelWindow('gpt-4-turbo-2024-04-09').prefix).toBe('gpt-4-turbo');
    expect(lookupModelWindow('llama-3-70b', { fallback: { contextWindow: 8_000, maxOutputTokens: 1_000 } })).toMatchObject({ contextWindow: 8_000, known: false });
  });

  it('throws model-context-window with the numbers instead of letting the provider answer 400', () => {
    expect(() => checkFits(1_000, 2_000, 500)).not.toThrow();
    try {
      checkFits(1_800, 2_000, 500);
      expect.unreachable();
    } catch (error) {
      expect(isKeelError(error, 'model-context-window')).toBe(true);
      expect((error as Error).message).toContain('1800 input tokens plus 500 reserved');
      expect((error as Error).message).toContain('context window of 2000 tokens by 300');
    }
    expect(() => resolveBudgets(1_000, 1_000)).toThrow(/leave no room/);
  });
});
