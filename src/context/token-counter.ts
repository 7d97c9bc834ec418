import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { Tiktoken } from 'js-tiktoken/lite';
import type { TiktokenBPE } from 'js-tiktoken/lite';
import type { ContentBlock, Message } from '../spec/message.ts';
import type { ToolSpec } from '../spec/model.ts';
import { LruCache } from '../util/index.ts';

import type { TokenCounter, TokenEncoding } from '../spec/token-counter.ts';

export type { TokenCounter, TokenEncoding } from '../spec/token-counter.ts';

/**
 * Anthropic does not publish a local tokenizer, so Claude counts are estimated as the `o200k_base` count times this
 * factor. How it was chosen: published side-by-side measurements of the same inputs (Claude 3.5 Sonnet's
 * `usage.input_tokens` against GPT-4o's o200k tokenizer, 2024–2025) report Claude using about 16 % more tokens on
 * English prose, about 21 % more on math and about 30 % more on Python code. We take the upper end, 1.3, because the
 * planner must never under-count: an over-count only wastes headroom, an under-count is a provider 400.
 * Stated error against those published figures: between 0 % and +12 % (prose is over-counted by about
 * 1.30 / 1.16 − 1 ≈ 12 %, code is about right). That is an error against other people's figures, NOT a measurement of
 * ours: nothing defensible to measure it against exists offline. Anthropic publishes no tokenizer for Claude 3 and
 * later; `@anthropic-ai/tokenizer` (and the third-party ports of it) is the pre-Claude-3 vocabulary, which Anthropic's
 * own SDK says is not accurate for Claude 3 models; the `usage` figures in examples/incident/model.json are of unknown
 * provenance (this project has had no key or network to record them with), so they are no ground truth either.
 * Other languages and newer Claude tokenizers may differ by more, and the per-message framing overhead is a further
 * approximation. The error is measurable, not measured: `ANTHROPIC_API_KEY=… npx tsx bench/token-count-error.ts`
 * sends a fixed corpus to the count-tokens endpoint and prints this estimate's relative error (mean, p95, max).
 *
 * Where the error matters, it is avoided rather than bounded: with a key set, the Anthropic model offers the exact
 * count (`countTokens`, src/model/anthropic-token-count.ts) and the fit check before every call uses it
 * (exact-token-count.ts); this estimate remains what the planner budgets with, and the fallback when counting fails.
 */
export const anthropicCalibrationFactor = 1.3;

/** Framing overhead we add on top of content, modelled on OpenAI's published chat accounting (≈3–4 tokens a message). */
export const messageOverheadTokens = 4;
export const blockOverheadTokens = 3;
export const toolOverheadTokens = 8;

export interface TokenCounterOptions {
  readonly provider: string;
  readonly modelId: string;
  /** Entries in the content-hash LRU cache. Default 4,096. */
  readonly cacheSize?: number;
  /** Overrides the Anthropic calibration factor (tests, or a factor measured on your own traffic). */
  readonly anthropicFactor?: number;
}

const require = createRequire(import.meta.url);
const encoders = new Map<TokenEncoding, Tiktoken>();

/** Loads an encoding on first use only (the rank tables are several megabytes) and keeps it for the process. */
export function loadEncoding(encoding: TokenEncoding): Tiktoken {
  let encoder = encoders.get(encoding);
  if (encoder === undefined) {
    const ranks = require(`js-tiktoken/ranks/${encoding}`) as TiktokenBPE;
    encoder = new Tiktoken(ranks);
    encoders.set(encoding, encoder);
  }
  return encoder;
}

/** Which encoding a model uses, by id: o200k for gpt-4o, gpt-4.1, gpt-5 and the o-series; cl100k for older OpenAI models. */
export function encodingForModel(provider: string, modelId: string): { encoding: TokenEncoding; exact: boolean } {
  const id = modelId.toLowerCase().replace(/^[a-z0-9-]+\//, '');
  if (provider === 'anthropic' || id.startsWith('claude')) return { encoding: 'o200k_base', exact: false };
  if (/^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o1|o3|o4|chatgpt-4o|gpt-oss)/.test(id)) return { encoding: 'o200k_base', exact: true };
  if (/^(gpt-4|gpt-3\.5|text-embedding-3|text-embedding-ada)/.test(id)) return { encoding: 'cl100k_base', exact: true };
  // Unknown models (other OpenAI-compatible servers): o200k is the closest modern BPE; the count is an estimate.
  return { encoding: 'o200k_base', exact: false };
}

export function createTokenCounter(options: TokenCounterOptions): TokenCounter & { readonly cacheEntries: number } {
  const { encoding, exact } = encodingForModel(options.provider, options.modelId);
  const isAnthropic = options.provider === 'anthropic' || options.modelId.toLowerCase().includes('claude');
  const factor = isAnthropic ? (options.anthropicFactor ?? anthropicCalibrationFactor) : 1;
  // Keyed by content hash (short strings are their own key).
  const cache = new LruCache<number>(options.cacheSize ?? 4096);
  return {
    method: exact ? 'tokenizer' : 'estimate',
    encoding,
    factor,
    get cacheEntries() {
      return cache.size;
    },
    count(text: string): number {
      if (text.length === 0) return 0;
      const key = text.length <= 64 ? `s:${text}` : `h:${createHash('sha1').update(text).digest('base64')}`;
      const cached = cache.get(key);
      if (cached !== undefined) return cached;
      // allowedSpecial 'all' would turn `<|endoftext|>` in data into one token; count it as the text it is instead.
      const raw = loadEncoding(encoding).encode(text, [], []).length;
      const value = factor === 1 ? raw : Math.ceil(raw * factor);
      cache.set(key, value);
      return value;
    },
  };
}

/** Tokens of one content block, including its framing overhead. */
export function countBlock(counter: TokenCounter, block: ContentBlock): number {
  switch (block.type) {
    case 'text':
      return blockOverheadTokens + counter.count(block.text);
    case 'thinking':
      return blockOverheadTokens + counter.count(block.thinking);
    case 'tool_use':
      return toolOverheadTokens + counter.count(block.name) + counter.count(block.malformedInput ?? JSON.stringify(block.input ?? {}));
    case 'tool_result':
      return toolOverheadTokens + counter.count(block.content);
    case 'hosted_tool':
      // The provider's own block (a search and its results) goes back to it whole.
      return toolOverheadTokens + counter.count(JSON.stringify(block.data));
  }
}

export function countMessage(counter: TokenCounter, message: Message): number {
  let total = messageOverheadTokens;
  for (const block of message.content) total += countBlock(counter, block);
  return total;
}

export function countTools(counter: TokenCounter, tools: readonly ToolSpec[]): number {
  let total = 0;
  for (const tool of tools) total += toolOverheadTokens + counter.count(tool.name) + counter.count(tool.description) + counter.count(JSON.stringify(tool.inputSchema));
  return total;
}
