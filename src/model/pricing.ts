import type { Usage } from '../spec/usage.ts';

/** USD per million tokens. */
export interface ModelPrice {
  readonly input: number;
  readonly output: number;
  readonly cacheRead: number;
  readonly cacheWrite: number;
  /** Rates for every token of a request whose prompt (input, cache reads and writes) exceeds the threshold. */
  readonly longContext?: { readonly thresholdTokens: number } & Omit<ModelPrice, 'longContext'>;
}

export type PriceTable = Readonly<Record<string, ModelPrice>>;

/** Anthropic's list prices (platform.claude.com pricing); cache writes at the 5-minute rate, which is the API default. */
export const anthropicPrices: PriceTable = {
  'claude-opus-4-1': { input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75 },
  'claude-opus-4': { input: 15, output: 75, cacheRead: 1.5, cacheWrite: 18.75 },
  'claude-opus-4-5': { input: 5, output: 25, cacheRead: 0.5, cacheWrite: 6.25 },
  'claude-opus-4-6': { input: 5, output: 25, cacheRead: 0.5, cacheWrite: 6.25 },
  'claude-opus-4-7': { input: 5, output: 25, cacheRead: 0.5, cacheWrite: 6.25 },
  'claude-opus-4-8': { input: 5, output: 25, cacheRead: 0.5, cacheWrite: 6.25 },
  'claude-opus-5': { input: 5, output: 25, cacheRead: 0.5, cacheWrite: 6.25 },
  'claude-opus-5-5': { input: 4, output: 20, cacheRead: 0.2, cacheWrite: 5 },
  'claude-sonnet-4-5': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75, longContext: { thresholdTokens: 200_000, input: 6, output: 22.5, cacheRead: 0.6, cacheWrite: 7.5 } },
  'claude-sonnet-4': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75, longContext: { thresholdTokens: 200_000, input: 6, output: 22.5, cacheRead: 0.6, cacheWrite: 7.5 } },
  'claude-sonnet-4-6': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
  'claude-sonnet-5': { input: 2, output: 10, cacheRead: 0.2, cacheWrite: 2.5 },
  'claude-3-7-sonnet': { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 3.75 },
  'claude-haiku-4-5': { input: 1, output: 5, cacheRead: 0.1, cacheWrite: 1.25 },
  'claude-3-5-haiku': { input: 0.8, output: 4, cacheRead: 0.08, cacheWrite: 1 },
};

/** OpenAI's list prices; OpenAI does not charge for writing its automatic prompt cache. */
export const openAIPrices: PriceTable = {
  'gpt-4o': { input: 2.5, output: 10, cacheRead: 1.25, cacheWrite: 0 },
  'gpt-4o-mini': { input: 0.15, output: 0.6, cacheRead: 0.075, cacheWrite: 0 },
  'gpt-4.1': { input: 2, output: 8, cacheRead: 0.5, cacheWrite: 0 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6, cacheRead: 0.1, cacheWrite: 0 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4, cacheRead: 0.025, cacheWrite: 0 },
  o3: { input: 2, output: 8, cacheRead: 0.5, cacheWrite: 0 },
  'o4-mini': { input: 1.1, output: 4.4, cacheRead: 0.275, cacheWrite: 0 },
  'gpt-5': { input: 1.25, output: 10, cacheRead: 0.125, cacheWrite: 0 },
  'gpt-5-mini': { input: 0.25, output: 2, cacheRead: 0.025, cacheWrite: 0 },
};

/** Which tables a provider's model ids are looked up in. Scripted responses name a real model, so they look everywhere. */
const tablesByProvider: Readonly<Record<string, readonly PriceTable[]>> = {
  anthropic: [anthropicPrices],
  openai: [openAIPrices],
  scripted: [anthropicPrices, openAIPrices],
  // A route over several providers names the model that answered; the ids of the two tables do not overlap.
  routed: [anthropicPrices, openAIPrices],
};

/**
 * A model id's price: the longest table key that is the id itself or the id without a date or `-latest`
 * suffix (`claude-sonnet-4-5-20250929`, `gpt-4o-2024-08-06`). Anything else is unknown: `claude-sonnet-4`
 * does not price `claude-sonnet-4-7`, nor `o3` price `o3-pro`, because a guessed price is worse than none.
 */
export function findPrice(table: PriceTable, modelId: string): ModelPrice | undefined {
  let best: string | undefined;
  for (const key of Object.keys(table)) {
    if (modelId !== key && !(modelId.startsWith(key) && isVersionSuffix(modelId.slice(key.length)))) continue;
    if (best === undefined || key.length > best.length) best = key;
  }
  return best === undefined ? undefined : table[best];
}

function isVersionSuffix(suffix: string): boolean {
  return /^-(\d{8}|\d{4}-\d{2}-\d{2}|latest)$/.test(suffix);
}

/**
 * USD cost of one call, or null when the model has no known price (an OpenAI-compatible server, a model newer
 * than this table). `overrides`, keyed by model id and matched the same way, come first for any provider.
 */
export function costOf(provider: string, modelId: string, usage: Usage, overrides?: PriceTable): number | null {
  const price = (overrides === undefined ? undefined : findPrice(overrides, modelId)) ?? lookup(provider, modelId);
  if (price === undefined) return null;
  const promptTokens = usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
  const rates = price.longContext !== undefined && promptTokens > price.longContext.thresholdTokens ? price.longContext : price;
  // One-hour cache writes cost twice the input rate (the table's cacheWrite is the 5-minute rate, 1.25×); OpenAI's are free.
  const longWrites = Math.min(usage.cacheWriteLongTokens ?? 0, usage.cacheWriteTokens);
  const longWriteRate = rates.cacheWrite === 0 ? 0 : rates.input * 2;
  const dollars =
    (usage.inputTokens * rates.input + usage.outputTokens * rates.output + usage.cacheReadTokens * rates.cacheRead + (usage.cacheWriteTokens - longWrites) * rates.cacheWrite + longWrites * longWriteRate) /
    1_000_000;
  // Rounded to a millionth of a cent so that sums in the journal do not collect float noise.
  return Math.round(dollars * 1e8) / 1e8;
}

function lookup(provider: string, modelId: string): ModelPrice | undefined {
  for (const table of tablesByProvider[provider] ?? []) {
    const price = findPrice(table, modelId);
    if (price !== undefined) return price;
  }
  return undefined;
}
