import type { BucketReading, LimitDimension } from '../../spec/provider-limits.ts';

export interface HeaderLookup {
  get(name: string): string | null;
}

export type BucketReadings = Partial<Record<LimitDimension, BucketReading>>;

/** Anthropic's header stem for each dimension. The combined `tokens` one is read only when the split ones are absent. */
const anthropicStems: readonly (readonly [LimitDimension, string])[] = [
  ['requests', 'requests'],
  ['inputTokens', 'input-tokens'],
  ['outputTokens', 'output-tokens'],
];

/**
 * What the provider's rate-limit headers say about each bucket, from either family:
 * `anthropic-ratelimit-{requests,input-tokens,output-tokens,tokens}-{limit,remaining,reset}` (reset an RFC 3339 time)
 * or OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` (reset a duration such as `1s` or `6m0s`).
 * Values that do not parse are left out; an empty result means the response carried no usable header.
 */
export function readRateLimitHeaders(headers: HeaderLookup, now: number = Date.now()): BucketReadings {
  const readings: BucketReadings = {};
  for (const [dimension, stem] of anthropicStems) {
    const reading = anthropicReading(headers, stem, now);
    if (reading !== undefined) readings[dimension] = reading;
  }
  // Anthropic's `tokens` headers describe the most restrictive token limit in effect; the split ones are exact.
  if (readings.inputTokens === undefined && readings.outputTokens === undefined) {
    const combined = anthropicReading(headers, 'tokens', now);
    if (combined !== undefined) readings.tokens = combined;
  }
  for (const [dimension, stem] of [['requests', 'requests'], ['tokens', 'tokens']] as const) {
    if (readings[dimension] !== undefined) continue;
    const reading = openAIReading(headers, stem);
    if (reading !== undefined) readings[dimension] = reading;
  }
  return readings;
}

function anthropicReading(headers: HeaderLookup, stem: string, now: number): BucketReading | undefined {
  const remaining = count(headers.get(`anthropic-ratelimit-${stem}-remaining`));
  if (remaining === undefined) return undefined;
  const limit = count(headers.get(`anthropic-ratelimit-${stem}-limit`));
  const resetAt = timestamp(headers.get(`anthropic-ratelimit-${stem}-reset`));
  return { remaining, ...(limit === undefined ? {} : { limit }), ...(resetAt === undefined ? {} : { resetInMs: Math.max(0, resetAt - now) }) };
}

function openAIReading(headers: HeaderLookup, stem: string): BucketReading | undefined {
  const remaining = count(headers.get(`x-ratelimit-remaining-${stem}`));
  if (remaining === undefined) return undefined;
  const limit = count(headers.get(`x-ratelimit-limit-${stem}`));
  const resetInMs = parseDuration(headers.get(`x-ratelimit-reset-${stem}`));
  return { remaining, ...(limit === undefined ? {} : { limit }), ...(resetInMs === undefined ? {} : { resetInMs }) };
}

function count(text: string | null): number | undefined {
  if (text === null || text.length > 20) return undefined;
  const value = Number(text.trim());
  return Number.isFinite(value) && value >= 0 ? value : undefined;
}

function timestamp(text: string | null): number | undefined {
  if (text === null || text.length > 40) return undefined;
  const value = Date.parse(text);
  return Number.isFinite(value) ? value : undefined;
}

const durationUnits: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000_001 };

/** A Go duration (`1s`, `6m0s`, `1h2m3.5s`, `250ms`) in milliseconds; undefined when it is not one. */
export function parseDuration(text: string | null): number | undefined {
  if (text === null || text.length === 0 || text.length > 40) return undefined;
  const pattern = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/gy;
  let total = 0;
  let consumed = 0;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    total += Number(match[1]) * (durationUnits[match[2] as string] as number);
    consumed = pattern.lastIndex;
  }
  return consumed === text.length ? total : undefined;
}
