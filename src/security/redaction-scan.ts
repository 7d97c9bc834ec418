/**
 * The primitives every redaction detector is built from, chosen so that a detector is linear in the
 * length of its input by construction:
 *
 * - regular expressions use only bounded quantifiers (`{m,n}`, `?`) — never `*`, `+`, `{m,}` or a lazy
 *   quantifier — so the work at one start position is bounded by a constant, whatever the input
 *   (`test/security/redaction-linear.test.ts` checks every registered pattern for this);
 * - structures with a far delimiter (a private-key block, a JWT with a stray space) are scanned by hand:
 *   an anchor found with `indexOf`, then a bounded walk forward, and the next search starts after it.
 *
 * Every scan reports its steps to a work counter, so that a test can compare the work done on 250 KB
 * and on 1 MB of adversarial input without timing anything.
 */

/** A half-open range of UTF-16 code units, `[start, end)`. */
export interface SensitiveSpan {
  readonly start: number;
  readonly end: number;
}

export interface Detector<Type extends string> {
  readonly type: Type;
  /** A cheap necessary condition: most text holds no secret, and a substring test costs less than a scan. */
  readonly mayContain: (text: string) => boolean;
  readonly find: (text: string) => readonly SensitiveSpan[];
}

let work = 0;

/** Steps taken by all scans since the process started: regex executions, characters walked, characters decoded. */
export function redactionWork(): number {
  return work;
}

/** Adds steps to the work counter; used by the hand-written scans. */
export function countWork(steps: number): void {
  work += steps;
}

const registered: RegExp[] = [];

/** Every pattern the detectors run, for the structural linear-time check. */
export function registeredPatterns(): readonly RegExp[] {
  return registered;
}

/** A global scanning copy of `pattern` (with `d` for group positions), registered for the structural check. */
export function scanner(pattern: RegExp): RegExp {
  const copy = new RegExp(pattern.source, `${pattern.flags.replace(/[gdy]/g, '')}gd`);
  registered.push(copy);
  return copy;
}

/** A sticky copy of `pattern`, for matching at one position; registered for the structural check. */
export function stickyScanner(pattern: RegExp): RegExp {
  const copy = new RegExp(pattern.source, `${pattern.flags.replace(/[gdy]/g, '')}y`);
  registered.push(copy);
  return copy;
}

/** Returns the span to report for a match, or undefined to reject it. */
export type Accept = (match: RegExpExecArray, text: string) => SensitiveSpan | undefined;

/** The named group `value` when the pattern has one, else the whole match. */
export function defaultSpan(match: RegExpExecArray): SensitiveSpan {
  const value = match.indices?.groups?.value;
  if (value !== undefined) return { start: value[0], end: value[1] };
  return { start: match.index, end: match.index + match[0].length };
}

/**
 * All accepted spans of `pattern` in `text`. A rejected match resumes one character after its start, not
 * after its end, since a real secret may start inside it; the pattern is bounded, so this stays linear.
 */
export function matchSpans(pattern: RegExp, text: string, accept: Accept = defaultSpan): SensitiveSpan[] {
  const spans: SensitiveSpan[] = [];
  pattern.lastIndex = 0;
  let match: RegExpExecArray | null;
  let scannedTo = 0;
  while ((match = pattern.exec(text)) !== null) {
    // The characters the search passed over and the match itself: each is looked at a bounded number of times.
    work += 1 + Math.max(0, match.index + match[0].length - scannedTo);
    scannedTo = match.index + match[0].length;
    const span = accept(match, text);
    if (span === undefined) pattern.lastIndex = match.index + 1;
    else {
      spans.push(span);
      pattern.lastIndex = Math.max(span.end, match.index + 1);
    }
  }
  work += Math.max(0, text.length - scannedTo);
  pattern.lastIndex = 0;
  return spans;
}

/** Shannon entropy of `value` in bits per character: random tokens score above 3.5, words and repeated characters below. */
export function entropyBits(value: string): number {
  const counts = new Map<string, number>();
  for (const character of value) counts.set(character, (counts.get(character) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) {
    const share = count / value.length;
    bits -= share * Math.log2(share);
  }
  return bits;
}

const hasDigit = /\d/;
const hasLetter = /[A-Za-z]/;

/** Mixes letters and digits, as generated keys do and words and numbers do not. */
export function looksRandom(value: string): boolean {
  return hasDigit.test(value) && hasLetter.test(value);
}

/** Which characters a token body is made of. */
export type CharacterTest = (code: number) => boolean;

export const isAlphanumeric: CharacterTest = (code) => (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
export const isWordCharacter: CharacterTest = (code) => isAlphanumeric(code) || code === 95;
export const isBase64UrlCharacter: CharacterTest = (code) => isWordCharacter(code) || code === 45;
export const isBase64Character: CharacterTest = (code) => isAlphanumeric(code) || code === 43 || code === 47 || code === 61;

/** The end of the run of `test` characters starting at `from`; the steps count as work. */
export function runEnd(text: string, from: number, test: CharacterTest): number {
  let end = from;
  while (end < text.length && test(text.charCodeAt(end))) end += 1;
  work += end - from + 1;
  return end;
}

export interface TokenShape {
  /** A bounded pattern for what starts the token, look-behind included. */
  readonly prefix: RegExp;
  readonly body: CharacterTest;
  /** Characters of body the token needs after its prefix. */
  readonly minLength: number;
  /** A further test on the body, for example that it mixes letters and digits. */
  readonly accept?: (body: string) => boolean;
  /** Whether the prefix is part of what is redacted (a vendor prefix) or only introduces it (`Bearer `). */
  readonly redactPrefix: boolean;
}

/**
 * Tokens found by their prefix, their body walked by hand to its end: a token of any length is covered
 * whole (a bounded pattern would leave its tail), and the scan resumes after it, so the walk is linear.
 * `accept` must refuse every tail of a body it refuses (as "has a digit" does), since tails are not retried.
 */
export function findTokens(text: string, shape: TokenShape): SensitiveSpan[] {
  const spans: SensitiveSpan[] = [];
  const { prefix } = shape;
  prefix.lastIndex = 0;
  let match: RegExpExecArray | null;
  let scannedTo = 0;
  while ((match = prefix.exec(text)) !== null) {
    work += 1 + Math.max(0, match.index - scannedTo);
    scannedTo = match.index;
    const bodyStart = match.index + match[0].length;
    const end = runEnd(text, bodyStart, shape.body);
    const body = text.slice(bodyStart, end);
    if (end - bodyStart >= shape.minLength && (shape.accept?.(body) ?? true)) spans.push({ start: shape.redactPrefix ? match.index : bodyStart, end });
    // Resuming after the body also when it was refused: its tails are shorter, and fail the same tests.
    prefix.lastIndex = Math.max(match.index + 1, end);
    scannedTo = Math.max(scannedTo, end);
  }
  work += Math.max(0, text.length - scannedTo);
  prefix.lastIndex = 0;
  return spans;
}
