/**
 * The classifier's view of normalized text: sentences, and for each sentence the hashed indices of its features.
 * Shared by the scanner and by the training script, so the two can never disagree about a feature. Features:
 * word unigrams and bigrams (punctuation counts as a word: `!!!`, `:`), character trigrams inside words (they carry
 * obfuscated and inflected forms), and directive-language features: the sentence's first word (imperatives start
 * sentences), and whether it holds an e-mail address or a URL (where data would be sent). One linear pass.
 */

/**
 * Each feature occurrence in a window of n features counts 1/sqrt(max(n, minimumFeatureCount)): long windows are not
 * extreme by length alone, and a fragment of three words cannot ride on one strong word.
 */
export const minimumFeatureCount = 24;

export function featureValue(count: number): number {
  return count === 0 ? 0 : 1 / Math.sqrt(Math.max(count, minimumFeatureCount));
}

/** Longest sentence fed to the classifier; longer ones are cut, so a window stays a few sentences wide. */
export const maxSentenceLength = 320;
/** Characters of a word that produce character trigrams; longer tokens are identifiers or encoded data. */
const trigramReach = 24;

const wordCache = new Map<number, boolean>();
const letterOrNumber = /^[\p{L}\p{N}]$/u;

function isWordCharacter(code: number): boolean {
  if (code < 0x80) return (code >= 97 && code <= 122) || (code >= 48 && code <= 57) || code === 95 || code === 39 || (code >= 65 && code <= 90);
  let known = wordCache.get(code);
  if (known === undefined) {
    known = letterOrNumber.test(String.fromCharCode(code)) || (code >= 0xd800 && code <= 0xdfff);
    if (wordCache.size < 65_536) wordCache.set(code, known);
  }
  return known;
}

function isSpace(code: number): boolean {
  return code === 32 || code === 10 || code === 9 || code === 13;
}

/** Sentence spans of normalized text: cut at newlines, at `.!?` before a space, at JSON value boundaries, and at `maxSentenceLength`. */
export function sentenceSpans(text: string): [number, number][] {
  const spans: [number, number][] = [];
  let start = 0;
  const close = (end: number): void => {
    let from = start;
    while (from < end && isSpace(text.charCodeAt(from))) from += 1;
    if (end > from) spans.push([from, end]);
    start = end;
  };
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code === 10) close(index + 1);
    else if ((code === 46 || code === 33 || code === 63) && isSpace(text.charCodeAt(index + 1))) close(index + 1);
    else if (code === 123 || code === 91 || ((code === 34 || code === 39) && closesValue(text, index + 1))) close(index + 1);
    else if (index - start >= maxSentenceLength && isSpace(code)) close(index + 1);
    else if (index - start >= maxSentenceLength + 80) close(index + 1);
  }
  close(text.length);
  return spans;
}

/**
 * A quote followed by `,` `:` `}` or `]` ends a JSON or Python-literal string: structured tool output is cut into its
 * values, so the keys of a record template and the text of one field are separate sentences.
 */
function closesValue(text: string, index: number): boolean {
  let next = text.charCodeAt(index);
  if (next === 32) next = text.charCodeAt(index + 1);
  return next === 44 || next === 58 || next === 125 || next === 93;
}

const fnvOffset = 0x811c9dc5;
const fnvPrime = 0x01000193;

function mix(hash: number, value: number): number {
  return Math.imul(hash ^ value, fnvPrime) >>> 0;
}

/** A final avalanche, so nearby raw hashes spread over the whole table. */
function finish(hash: number, kind: number): number {
  let mixed = Math.imul(hash ^ Math.imul(kind, 0x9e3779b1), 0x85ebca6b) >>> 0;
  mixed ^= mixed >>> 13;
  mixed = Math.imul(mixed, 0xc2b2ae35) >>> 0;
  return (mixed ^ (mixed >>> 16)) >>> 0;
}

const kinds = { unigram: 1, bigram: 2, trigram: 3, first: 4, email: 5, url: 6, punctuationRun: 7 } as const;

/**
 * Feature indices of `text[start, end)` in a table of `dimensions` (a power of two). Indices repeat when a feature
 * does: the model sums them, so counts count.
 */
export function sentenceFeatures(text: string, start: number, end: number, dimensions: number): number[] {
  const features: number[] = [];
  visitSentenceFeatures(text, start, end, dimensions, features);
  return features;
}

/** Where feature indices go: an array (training) or a running sum (scanning, without allocating per sentence). */
export interface FeatureSink {
  push(feature: number): unknown;
}

/** The features of `sentenceFeatures`, handed to `features` one by one in the same order. */
export function visitSentenceFeatures(text: string, start: number, end: number, dimensions: number, features: FeatureSink): void {
  const mask = dimensions - 1;
  let previous = 0;
  let isFirst = true;
  let sawAt = false;
  let index = start;
  while (index < end) {
    const code = text.charCodeAt(index);
    if (isSpace(code)) {
      index += 1;
      continue;
    }
    let hash = fnvOffset;
    const tokenStart = index;
    if (isWordCharacter(code)) {
      while (index < end && isWordCharacter(text.charCodeAt(index))) {
        hash = mix(hash, text.charCodeAt(index));
        index += 1;
      }
      addTrigrams(features, text, tokenStart, Math.min(index, tokenStart + trigramReach), mask);
    } else {
      // A punctuation token: a run of the same mark counts once, with its length capped (`!!!!!!` is `!!!`).
      let run = 0;
      while (index < end && text.charCodeAt(index) === code) {
        run += 1;
        index += 1;
      }
      hash = mix(mix(hash, code), Math.min(run, 3));
      if (code === 64) sawAt = true;
      if (run >= 3) features.push(finish(code, kinds.punctuationRun) & mask);
    }
    features.push(finish(hash, kinds.unigram) & mask);
    if (!isFirst) features.push(finish(mix(Math.imul(previous, 31) >>> 0, hash), kinds.bigram) & mask);
    else features.push(finish(hash, kinds.first) & mask);
    if (sawAt && isWordCharacter(code) && text.charCodeAt(tokenStart - 1) === 64) features.push(finish(0, kinds.email) & mask);
    if (code === 104 && text.startsWith('http', tokenStart) && text.charCodeAt(index) === 58) features.push(finish(0, kinds.url) & mask);
    previous = hash;
    isFirst = false;
  }
}

function addTrigrams(features: FeatureSink, text: string, start: number, end: number, mask: number): void {
  if (end - start < 3) return;
  // Word boundaries are part of the trigrams (`^ig`, `re$`), as 0 codes.
  let first = 0;
  let second = text.charCodeAt(start);
  for (let index = start + 1; index <= end; index += 1) {
    const third = index < end ? text.charCodeAt(index) : 0;
    features.push(finish(mix(mix(mix(fnvOffset, first), second), third), kinds.trigram) & mask);
    first = second;
    second = third;
  }
}
