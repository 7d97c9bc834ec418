import type { Embedder } from './memory-types.ts';
import { checkPositiveInteger } from './vector-math.ts';

export interface HashingEmbedderOptions {
  /** Defaults to 384. */
  readonly dimensions?: number;
  /** Weight of each word feature against each character-trigram feature. Both default to 1. */
  readonly wordWeight?: number;
  readonly trigramWeight?: number;
}

/** Function words carry no topic; dropping them from the word features sharpens lexical matching. */
const stopWords = new Set(
  (
    'a an and are as at be been but by can could did do does for from had has have he her his how i if in into is it its ' +
    'me my no not of on or our she so than that the their them then there these they this those to was we were what when ' +
    'where which who whom why will with would you your'
  ).split(' '),
);

/**
 * The offline default: no model, no downloaded weights. Feature hashing (the "hashing trick") of word unigrams and
 * character trigrams of each word, each hashed to a signed bucket, weighted with sublinear term frequency
 * `1 + ln(tf)`, then L2-normalized. It is lexical: it matches shared words and word fragments (so "backup" finds
 * "backups"), not meaning ("credentials" does not find "signing keys"). See the quality test for measured numbers.
 */
export function createHashingEmbedder(options: HashingEmbedderOptions = {}): Embedder {
  const dimensions = options.dimensions ?? 384;
  checkPositiveInteger(dimensions, 'dimensions', 'invalid-config');
  const wordWeight = options.wordWeight ?? 1;
  const trigramWeight = options.trigramWeight ?? 1;
  return {
    id: `hashing:v1@${dimensions}`,
    dimensions,
    async embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]> {
      signal?.throwIfAborted();
      return texts.map((text) => embedOne(text, dimensions, wordWeight, trigramWeight));
    },
  };
}

function embedOne(text: string, dimensions: number, wordWeight: number, trigramWeight: number): Float32Array {
  const counts = new Map<string, number>();
  const add = (feature: string): void => {
    counts.set(feature, (counts.get(feature) ?? 0) + 1);
  };
  for (const word of text.normalize('NFKC').toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    if (!stopWords.has(word)) add(`w:${word}`);
    const padded = `<${word}>`;
    for (let index = 0; index + 3 <= padded.length; index += 1) add(`t:${padded.slice(index, index + 3)}`);
  }
  const vector = new Float32Array(dimensions);
  for (const [feature, count] of counts) {
    const hash = fnv1a(feature);
    const bucket = hash % dimensions;
    // The sign comes from other bits than the bucket, so collisions cancel out on average instead of adding up.
    const sign = (Math.imul(hash, 0x9e3779b1) >>> 31) === 0 ? 1 : -1;
    const weight = feature.startsWith('w:') ? wordWeight : trigramWeight;
    vector[bucket] = (vector[bucket] as number) + sign * weight * (1 + Math.log(count));
  }
  let sum = 0;
  for (const value of vector) sum += value * value;
  if (sum > 0) {
    const scale = 1 / Math.sqrt(sum);
    for (let index = 0; index < dimensions; index += 1) vector[index] = (vector[index] as number) * scale;
  }
  return vector;
}

/** 32-bit FNV-1a over UTF-16 code units, unsigned. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
