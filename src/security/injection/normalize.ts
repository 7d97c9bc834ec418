import { decodeBase64Runs, decodeHtmlEntities, decodePercentEncoding } from './decode.ts';
import { identityView, ViewBuilder } from './text-view.ts';
import type { TextView } from './text-view.ts';

/**
 * The text the rules and the classifier read: decoded (HTML references, percent-encoding, base64), compatibility-
 * normalized per character (NFKC: fullwidth and mathematical letters become ASCII), lower-cased, without invisible
 * characters (zero-width, bidi controls, variation selectors), with Unicode tag characters read as the ASCII they
 * smuggle, accents removed from Latin, Greek and Cyrillic letters, spaces collapsed, and, inside words that mix
 * scripts or digits with letters, look-alike letters and leetspeak folded to ASCII (`іgnоrе`, `1gn0r3`). Letters
 * spaced out one by one (`i g n o r e`) are joined. Every pass is linear and keeps the map to the original offsets.
 */
export function normalizeForDetection(text: string): TextView {
  let view = identityView(text);
  view = decodeHtmlEntities(view);
  view = decodePercentEncoding(view);
  view = decodeBase64Runs(view);
  view = foldCharacters(view);
  return foldWords(view);
}

function isInvisible(codePoint: number): boolean {
  return codePoint === 0xad || codePoint === 0x34f || codePoint === 0x61c || codePoint === 0x115f || codePoint === 0x1160
    || codePoint === 0x17b4 || codePoint === 0x17b5 || (codePoint >= 0x180b && codePoint <= 0x180f)
    || (codePoint >= 0x200b && codePoint <= 0x200f) || (codePoint >= 0x202a && codePoint <= 0x202e)
    || (codePoint >= 0x2060 && codePoint <= 0x206f) || codePoint === 0x3164 || (codePoint >= 0xfe00 && codePoint <= 0xfe0f)
    || codePoint === 0xfeff || codePoint === 0xffa0 || (codePoint >= 0xfff0 && codePoint <= 0xfffb)
    || (codePoint >= 0xe0000 && codePoint <= 0xe007f) || (codePoint >= 0xe0100 && codePoint <= 0xe01ef)
    || (codePoint >= 0x1bca0 && codePoint <= 0x1bca3) || (codePoint >= 0x1d173 && codePoint <= 0x1d17a)
    || (codePoint >= 0x80 && codePoint <= 0x9f);
}

function isUnicodeSpace(codePoint: number): boolean {
  return codePoint === 0x85 || codePoint === 0xa0 || codePoint === 0x1680 || (codePoint >= 0x2000 && codePoint <= 0x200a)
    || codePoint === 0x202f || codePoint === 0x205f || codePoint === 0x3000;
}

/** Folded forms of non-ASCII characters, computed once each; bounded so adversarial text cannot grow it forever. */
const foldedCache = new Map<number, string>();
const foldedCacheLimit = 65_536;
const combiningMarks = /\p{M}/gu;

function foldedCharacter(codePoint: number): string {
  const cached = foldedCache.get(codePoint);
  if (cached !== undefined) return cached;
  let folded = String.fromCodePoint(codePoint).normalize('NFKC').toLowerCase();
  const decomposed = folded.normalize('NFD');
  // Accents go only where the base letter is Latin, Greek or Cyrillic: in Indic scripts the marks are vowels.
  if (decomposed.length > 0 && decomposed.codePointAt(0)! < 0x530) folded = decomposed.replace(combiningMarks, '');
  if (foldedCache.size < foldedCacheLimit) foldedCache.set(codePoint, folded);
  return folded;
}

/** ASCII that passes through unchanged: printable characters other than upper-case letters. */
function isPlainAscii(code: number): boolean {
  return code >= 33 && code <= 126 && !(code >= 65 && code <= 90);
}

/** Per code point: NFKC, lower case, invisible characters removed, tag characters decoded, spaces collapsed. */
function foldCharacters(original: TextView): TextView {
  // Lower-casing the whole text first is one native pass; when it keeps the length (no `İ` that expands), unit i of
  // the lowered text still stems from unit i of the original, and only the rest goes through the per-character path.
  const lowered = original.text.toLowerCase();
  const view = lowered.length === original.text.length ? { ...original, text: lowered } : original;
  const { text } = view;
  // Created on the first change: text that needs no folding costs no copy.
  let lazyBuilder: ViewBuilder | undefined;
  // Runs of unchanged characters are copied in one call; only what changes goes through the slow path.
  let copied = 0;
  let index = 0;
  while (index < text.length) {
    const code = text.charCodeAt(index);
    if (isPlainAscii(code) || code === 10 || (code === 32 && index > 0 && isPlainAscii(text.charCodeAt(index - 1)))) {
      index += 1;
      continue;
    }
    const builder = (lazyBuilder ??= new ViewBuilder(view));
    builder.copy(copied, index);
    const codePoint = text.codePointAt(index)!;
    const width = codePoint > 0xffff ? 2 : 1;
    const next = index + width;
    if (codePoint < 0x80) foldAscii(builder, codePoint, index, text);
    else if (codePoint >= 0xe0020 && codePoint <= 0xe007e) foldAscii(builder, codePoint - 0xe0000, index, text, next);
    else if (isUnicodeSpace(codePoint)) pushSpace(builder, index, next);
    else if (codePoint === 0x2028 || codePoint === 0x2029) builder.pushUnit(10, index, next);
    else if (!isInvisible(codePoint)) builder.push(foldedCharacter(codePoint), index, next);
    index = next;
    copied = next;
  }
  if (lazyBuilder === undefined) return view;
  lazyBuilder.copy(copied, text.length);
  return lazyBuilder.build();
}

function pushSpace(builder: ViewBuilder, from: number, to: number): void {
  const last = builder.lastUnit();
  if (last !== 32 && last !== 10) builder.pushUnit(32, from, to);
}

function foldAscii(builder: ViewBuilder, code: number, index: number, text: string, next = index + 1): void {
  if (code >= 65 && code <= 90) builder.pushUnit(code + 32, index, next);
  else if (code === 32 || code === 9 || code === 11 || code === 12) pushSpace(builder, index, next);
  else if (code === 13) {
    if (text.charCodeAt(index + 1) !== 10) builder.pushUnit(10, index, next);
  } else if (code === 10 || code >= 32 && code !== 127) builder.pushUnit(code, index, next);
}

/** Look-alike letters (after lower-casing) that stand in for ASCII letters in mixed-script words. */
const confusables: ReadonlyMap<number, number> = new Map(Object.entries({
  а: 'a', в: 'b', е: 'e', ё: 'e', з: '3', і: 'i', ї: 'i', ј: 'j', к: 'k', м: 'm', н: 'h', о: 'o', р: 'p', с: 'c', т: 't',
  у: 'y', х: 'x', ѕ: 's', һ: 'h', ԁ: 'd', ԛ: 'q', ԝ: 'w', ӏ: 'l', ɡ: 'g', ı: 'i', ȷ: 'j', ɑ: 'a', ɩ: 'i', ʋ: 'v',
  α: 'a', β: 'b', γ: 'y', ε: 'e', η: 'n', ι: 'i', κ: 'k', ν: 'v', ο: 'o', ρ: 'p', τ: 't', υ: 'u', χ: 'x', ω: 'w',
  օ: 'o', ս: 'u', ց: 'g', հ: 'h', ո: 'n',
}).map(([from, to]) => [from.charCodeAt(0), to.charCodeAt(0)]));

const leetDigits: Readonly<Record<number, number>> = { 48: 111, 49: 105, 51: 101, 52: 97, 53: 115, 55: 116 };

const letterCache = new Map<number, boolean>();
const letterOrNumber = /^[\p{L}\p{N}]$/u;

function isWordUnit(code: number): boolean {
  if (code < 0x80) return (code >= 97 && code <= 122) || (code >= 48 && code <= 57);
  let known = letterCache.get(code);
  if (known === undefined) {
    known = letterOrNumber.test(String.fromCharCode(code));
    if (letterCache.size < foldedCacheLimit) letterCache.set(code, known);
  }
  return known;
}

function isAsciiLetter(code: number): boolean {
  return code >= 97 && code <= 122;
}

interface WordShape {
  readonly letters: number;
  readonly asciiLetters: number;
  readonly confusable: number;
  readonly leet: number;
  readonly otherDigits: number;
}

function shapeOf(text: string, start: number, end: number): WordShape {
  let letters = 0;
  let asciiLetters = 0;
  let confusable = 0;
  let leet = 0;
  let otherDigits = 0;
  for (let index = start; index < end; index += 1) {
    const code = text.charCodeAt(index);
    if (isAsciiLetter(code)) asciiLetters += 1;
    if (confusables.has(code)) confusable += 1;
    if (code >= 48 && code <= 57) {
      if (leetDigits[code] !== undefined) leet += 1;
      else otherDigits += 1;
    } else letters += 1;
  }
  return { letters, asciiLetters, confusable, leet, otherDigits };
}

/** Folds one word when it mixes scripts or digits with letters the way obfuscation does; null when it is ordinary. */
function foldedWord(text: string, start: number, end: number): string | null {
  const shape = shapeOf(text, start, end);
  const length = end - start;
  const homoglyphs = shape.confusable > 0 && shape.asciiLetters > 0;
  const leetspeak = shape.leet > 0 && shape.otherDigits === 0 && shape.letters >= 2 && shape.leet <= shape.letters + 1 && length >= 4;
  if (!homoglyphs && !leetspeak) return null;
  let folded = '';
  for (let index = start; index < end; index += 1) {
    const code = text.charCodeAt(index);
    const replacement = (homoglyphs ? confusables.get(code) : undefined) ?? (leetspeak ? leetDigits[code] : undefined);
    folded += String.fromCharCode(replacement ?? code);
  }
  return folded;
}

function isSpacingSeparator(code: number): boolean {
  return code === 32 || code === 46 || code === 45 || code === 95 || code === 42;
}

/** The end of a run of at least five single letters each followed by one separator (`i g n o r e`), or -1. */
function spacedLettersEnd(text: string, start: number): number {
  let index = start;
  let letters = 0;
  let end = -1;
  while (index < text.length && isAsciiLetter(text.charCodeAt(index)) && !isWordUnit(text.charCodeAt(index + 1))) {
    letters += 1;
    end = index + 1;
    if (!isSpacingSeparator(text.charCodeAt(index + 1)) || !isAsciiLetter(text.charCodeAt(index + 2))) break;
    index += 2;
  }
  return letters >= 5 ? end : -1;
}

/** Word-level folding: look-alike letters and leetspeak in mixed words, and spaced-out letters joined. */
function foldWords(view: TextView): TextView {
  const { text } = view;
  let lazyBuilder: ViewBuilder | undefined;
  // Ordinary words and the text between them are copied in runs; a folded word flushes the run first.
  let copied = 0;
  let index = 0;
  while (index < text.length) {
    if (!isWordUnit(text.charCodeAt(index))) {
      index += 1;
      continue;
    }
    const startsWord = index === 0 || !isWordUnit(text.charCodeAt(index - 1));
    const spacedEnd = startsWord ? spacedLettersEnd(text, index) : -1;
    if (spacedEnd !== -1) {
      const builder = (lazyBuilder ??= new ViewBuilder(view));
      builder.copy(copied, index);
      for (let letter = index; letter < spacedEnd; letter += 2) builder.copy(letter, letter + 1);
      index = spacedEnd;
      copied = spacedEnd;
      continue;
    }
    let end = index;
    // Only words with a digit or a non-ASCII letter can need folding; the rest are skipped without a second look.
    let unusual = false;
    for (let code = text.charCodeAt(end); end < text.length && isWordUnit(code); code = text.charCodeAt(end)) {
      if (code < 97) unusual = true;
      else if (code > 122) unusual = true;
      end += 1;
    }
    const folded = unusual ? foldedWord(text, index, end) : null;
    if (folded !== null) {
      const builder = (lazyBuilder ??= new ViewBuilder(view));
      builder.copy(copied, index);
      for (let offset = 0; offset < folded.length; offset += 1) builder.pushUnit(folded.charCodeAt(offset), index + offset, index + offset + 1);
      copied = end;
    }
    index = end;
  }
  if (lazyBuilder === undefined) return view;
  lazyBuilder.copy(copied, text.length);
  return lazyBuilder.build();
}
