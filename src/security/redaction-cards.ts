import { isCardIssuerNumber, passesLuhn } from './checksums.ts';
import { countWork } from './redaction-scan.ts';
import type { SensitiveSpan } from './redaction-scan.ts';

/**
 * Card numbers: a run of digit groups joined by single spaces, dashes or dots is walked by hand, and a card is
 * looked for inside it, group-aligned: printed cards are grouped 4-4-4-4, 4-6-5 or 4-6-4 with one kind of
 * separator, and must belong to a network that issues numbers of that length and pass Luhn. After `+` a run is
 * an international phone number, after a letter, a dash, a dot or a comma part of a reference or a number.
 */

interface DigitGroup {
  readonly start: number;
  readonly end: number;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function isWordCode(code: number): boolean {
  return isDigit(code) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95;
}

function isSeparator(code: number): boolean {
  return code === 32 || code === 45 || code === 46;
}

/** The digit groups of the run that starts at `start`, and where the run ends. */
function digitRun(text: string, start: number): { readonly groups: DigitGroup[]; readonly end: number } {
  const groups: DigitGroup[] = [];
  let index = start;
  for (;;) {
    const groupStart = index;
    while (index < text.length && isDigit(text.charCodeAt(index))) index += 1;
    groups.push({ start: groupStart, end: index });
    if (isSeparator(text.charCodeAt(index)) && isDigit(text.charCodeAt(index + 1))) index += 1;
    else break;
  }
  countWork(index - start + 1);
  return { groups, end: index };
}

export function findCardNumbers(text: string): SensitiveSpan[] {
  const spans: SensitiveSpan[] = [];
  let index = 0;
  while (index < text.length) {
    if (!isDigit(text.charCodeAt(index))) {
      index += 1;
      continue;
    }
    const before = text.charCodeAt(index - 1);
    const run = digitRun(text, index);
    const after = text.charCodeAt(run.end);
    const bounded = !(index > 0 && (isWordCode(before) || before === 46 || before === 44 || before === 43 || before === 45)) && !isWordCode(after) && !(after === 44 && isDigit(text.charCodeAt(run.end + 1)));
    if (bounded) spans.push(...cardsInRun(text, run.groups));
    index = run.end + 1;
  }
  countWork(text.length);
  return spans;
}

function cardsInRun(text: string, groups: readonly DigitGroup[]): SensitiveSpan[] {
  const spans: SensitiveSpan[] = [];
  let first = 0;
  while (first < groups.length) {
    const last = longestCardFrom(text, groups, first);
    if (last === undefined) first += 1;
    else {
      spans.push({ start: groups[first]!.start, end: groups[last]!.end });
      first = last + 1;
    }
  }
  return spans;
}

/** Whether a card may start at group `first` of the run: a group after a dot or a dash is a decimal or a reference. */
function separatedBySpace(text: string, groups: readonly DigitGroup[], index: number): boolean {
  return index <= 0 || index >= groups.length || text.charCodeAt(groups[index]!.start - 1) === 32;
}

function longestCardFrom(text: string, groups: readonly DigitGroup[], first: number): number | undefined {
  if (!separatedBySpace(text, groups, first)) return undefined;
  // Cheap refusals first, so a long run of short groups ("1 2 3 …") costs one look per group.
  const firstLength = groups[first]!.end - groups[first]!.start;
  if (firstLength !== 4 && (firstLength < 13 || firstLength > 19)) return undefined;
  const lead = text.charCodeAt(groups[first]!.start);
  if (lead < 50 || lead > 54) return undefined;
  let digits = 0;
  let last = first;
  while (last < groups.length && digits + groups[last]!.end - groups[last]!.start <= 19) {
    digits += groups[last]!.end - groups[last]!.start;
    last += 1;
  }
  for (let candidate = last - 1; candidate >= first; candidate -= 1) {
    if (separatedBySpace(text, groups, candidate + 1) && isCardWindow(text, groups, first, candidate)) return candidate;
  }
  return undefined;
}

function isCardWindow(text: string, groups: readonly DigitGroup[], first: number, last: number): boolean {
  // Lengths and separators first, without building anything: most windows fail here.
  let digitCount = 0;
  for (let index = first; index <= last; index += 1) digitCount += groups[index]!.end - groups[index]!.start;
  if (digitCount < 13 || digitCount > 19) return false;
  if (last > first) {
    if (groups[first]!.end - groups[first]!.start !== 4) return false;
    const separator = text.charCodeAt(groups[first + 1]!.start - 1);
    for (let index = first + 1; index <= last; index += 1) {
      const length = groups[index]!.end - groups[index]!.start;
      if (text.charCodeAt(groups[index]!.start - 1) !== separator || length > 6 || (index < last && length < 3)) return false;
    }
  }
  let digits = '';
  for (let index = first; index <= last; index += 1) digits += text.slice(groups[index]!.start, groups[index]!.end);
  return isCardIssuerNumber(digits) && passesLuhn(digits);
}
