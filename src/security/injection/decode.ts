import { isUtf8 } from 'node:buffer';
import { percentByte } from '../../util/index.ts';
import { ViewBuilder } from './text-view.ts';
import type { TextView } from './text-view.ts';

/**
 * Encodings an instruction hides behind so that phrase rules miss it: HTML character references, percent-encoding
 * and base64. Each pass is one linear scan that returns the view unchanged when there is nothing to decode, so
 * ordinary text costs one `indexOf` or one character-class scan per pass.
 */

const namedEntities: Readonly<Record<string, string>> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', colon: ':', sol: '/', lpar: '(', rpar: ')',
  lsqb: '[', rsqb: ']', lbrack: '[', rbrack: ']', excl: '!', num: '#', equals: '=', quest: '?', period: '.', comma: ',',
  newline: '\n', tab: '\t', commat: '@', dollar: '$', percnt: '%', ast: '*', plus: '+', hyphen: '-', lowbar: '_',
};

/** The longest character reference looked at: `&#x10FFFF;` and the longest name above. */
const maxEntityLength = 12;

function entityValue(body: string): string | undefined {
  if (body.startsWith('#x') || body.startsWith('#X')) return codePointText(Number.parseInt(body.slice(2), 16), /^[0-9a-fA-F]{1,6}$/.test(body.slice(2)));
  if (body.startsWith('#')) return codePointText(Number.parseInt(body.slice(1), 10), /^[0-9]{1,7}$/.test(body.slice(1)));
  return namedEntities[body.toLowerCase()];
}

function codePointText(codePoint: number, wellFormed: boolean): string | undefined {
  if (!wellFormed || codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff)) return undefined;
  return String.fromCodePoint(codePoint);
}

/** The `;` closing a reference that starts at `ampersand`, looked for only as far as a reference can reach. */
function semicolonNear(text: string, ampersand: number): number {
  const limit = Math.min(text.length, ampersand + maxEntityLength + 1);
  for (let index = ampersand + 1; index < limit; index += 1) {
    const code = text.charCodeAt(index);
    if (code === 59) return index;
    if (code === 32 || code === 10 || code === 38) return -1;
  }
  return -1;
}

/** Decodes `&lt;`, `&#105;`, `&#x69;` and a few named references; the view itself when there are none. */
export function decodeHtmlEntities(view: TextView): TextView {
  const { text } = view;
  let ampersand = text.indexOf('&');
  if (ampersand === -1) return view;
  const builder = new ViewBuilder(view);
  let copied = 0;
  let decoded = false;
  while (ampersand !== -1) {
    const semicolon = semicolonNear(text, ampersand);
    const value = semicolon === -1 ? undefined : entityValue(text.slice(ampersand + 1, semicolon));
    if (value === undefined) {
      ampersand = text.indexOf('&', ampersand + 1);
      continue;
    }
    builder.copy(copied, ampersand);
    builder.push(value, ampersand, semicolon + 1);
    decoded = true;
    copied = semicolon + 1;
    ampersand = text.indexOf('&', copied);
  }
  if (!decoded) return view;
  builder.copy(copied, text.length);
  return builder.build();
}

const lenientUtf8 = new TextDecoder('utf-8');
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes runs of `%XX` as UTF-8 (`ignore%20previous`); the view itself when there are none. */
export function decodePercentEncoding(view: TextView): TextView {
  const { text } = view;
  let percent = text.indexOf('%');
  if (percent === -1) return view;
  const builder = new ViewBuilder(view);
  let copied = 0;
  let decoded = false;
  while (percent !== -1) {
    const bytes: number[] = [];
    let end = percent;
    for (let byte = percentByte(text, end); byte !== -1; byte = percentByte(text, end)) {
      bytes.push(byte);
      end += 3;
    }
    if (bytes.length === 0) {
      percent = text.indexOf('%', percent + 1);
      continue;
    }
    builder.copy(copied, percent);
    builder.push(lenientUtf8.decode(Uint8Array.from(bytes)), percent, end);
    decoded = true;
    copied = end;
    percent = text.indexOf('%', end);
  }
  if (!decoded) return view;
  builder.copy(copied, text.length);
  return builder.build();
}

/** Base64 runs shorter than this are words or identifiers more often than hidden text. */
const minimumBase64Run = 16;
/** Runs longer than this are files or images; decoding them would cost memory and find no sentence. */
const maximumBase64Run = 65_536;

function isBase64Unit(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || (code >= 48 && code <= 57) || code === 43 || code === 47 || code === 45 || code === 95;
}

/** Characters of a run decoded first: its bytes are the first bytes of the whole run's decoding. */
const probeLength = 32;

const probe = new Uint8Array((probeLength / 4) * 3);

/** The value of a base64 unit, in either alphabet (`isBase64Unit` already held for it). */
function sextet(code: number): number {
  if (code >= 65 && code <= 90) return code - 65;
  if (code >= 97 && code <= 122) return code - 71;
  if (code >= 48 && code <= 57) return code + 4;
  return code === 43 || code === 45 ? 62 : 63;
}

/** The bytes of the run's first `probeLength` units, decoded into one buffer reused for every probe. */
function probeBytes(run: string): Uint8Array {
  for (let unit = 0, byte = 0; unit < probeLength; unit += 4, byte += 3) {
    const bits = (sextet(run.charCodeAt(unit)) << 18) | (sextet(run.charCodeAt(unit + 1)) << 12) | (sextet(run.charCodeAt(unit + 2)) << 6) | sextet(run.charCodeAt(unit + 3));
    probe[byte] = bits >> 16;
    probe[byte + 1] = (bits >> 8) & 0xff;
    probe[byte + 2] = bits & 0xff;
  }
  return probe;
}

/**
 * Whether `bytes` hold a sequence no continuation could make valid UTF-8: a byte that cannot start a character, or
 * a character cut short by a byte that cannot continue it. A character cut only by the end of `bytes` is not one.
 */
function breaksUtf8(bytes: Uint8Array): boolean {
  let index = 0;
  while (index < bytes.length) {
    const lead = bytes[index]!;
    const length = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
    if (length === 0) return true;
    for (let offset = 1; offset < length && index + offset < bytes.length; offset += 1) {
      const next = bytes[index + offset]!;
      // The second byte of E0, ED, F0 and F4 has a narrower range (no overlong forms, surrogates, or code points past U+10FFFF).
      const low = offset === 1 && lead === 0xe0 ? 0xa0 : offset === 1 && lead === 0xf0 ? 0x90 : 0x80;
      const high = offset === 1 && lead === 0xed ? 0x9f : offset === 1 && lead === 0xf4 ? 0x8f : 0xbf;
      if (next < low || next > high) return true;
    }
    index += length;
  }
  return false;
}

/** Text is accepted as hidden prose when it is valid UTF-8, mostly printable and has letters and a space. */
function decodedProse(run: string): string | undefined {
  // Most runs (hashes, identifiers, filler) break UTF-8 within their first bytes: a short probe rejects them before
  // the whole run is decoded.
  if (run.length > probeLength && breaksUtf8(probeBytes(run))) return undefined;
  // Node's base64 decoder also reads the URL-safe alphabet (`-`, `_`).
  const bytes = Buffer.from(run, 'base64');
  // Checked before decoding: most runs (hashes, identifiers, padding) are not UTF-8, and a throwing decode cost ~5× more.
  if (bytes.length < 8 || !isUtf8(bytes)) return undefined;
  let decoded: string;
  try {
    decoded = strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
  let printable = 0;
  let letters = 0;
  let spaces = 0;
  for (let index = 0; index < decoded.length; index += 1) {
    const code = decoded.charCodeAt(index);
    if (code === 32) spaces += 1;
    if ((code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code >= 0xc0) letters += 1;
    if (code >= 32 || code === 10 || code === 9 || code === 13) printable += 1;
  }
  return printable >= decoded.length * 0.95 && letters >= decoded.length * 0.5 && spaces > 0 ? decoded : undefined;
}

/**
 * Replaces base64 runs that decode to prose by that prose (standard and URL-safe alphabets, padding optional);
 * runs that decode to bytes or to identifiers stay as they are. The view itself when nothing decoded.
 */
export function decodeBase64Runs(view: TextView): TextView {
  const { text } = view;
  let builder: ViewBuilder | undefined;
  let copied = 0;
  let index = 0;
  while (index < text.length) {
    if (!isBase64Unit(text.charCodeAt(index))) {
      index += 1;
      continue;
    }
    const start = index;
    while (index < text.length && isBase64Unit(text.charCodeAt(index))) index += 1;
    let end = index;
    while (end < text.length && end - index < 2 && text.charCodeAt(end) === 61) end += 1;
    const length = index - start;
    if (length < minimumBase64Run || length > maximumBase64Run) continue;
    const decoded = decodedProse(text.slice(start, index));
    if (decoded === undefined) continue;
    builder ??= new ViewBuilder(view);
    builder.copy(copied, start);
    builder.push(` ${decoded} `, start, end);
    copied = end;
    index = end;
  }
  if (builder === undefined) return view;
  builder.copy(copied, text.length);
  return builder.build();
}
