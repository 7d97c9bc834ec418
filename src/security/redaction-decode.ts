import { percentByte } from '../util/index.ts';
import { countWork, isBase64UrlCharacter } from './redaction-scan.ts';
import type { SensitiveSpan } from './redaction-scan.ts';
import { isInvisible, normalizeView, ViewBuilder } from './redaction-text-view.ts';
import type { TextView } from './redaction-text-view.ts';

/**
 * Decodings a secret hides behind: JSON string escapes (a key after a literal `\n` is glued to the `n`;
 * JSON inside a JSON string is escaped twice), percent-encoding (`jane%40example.com`), and base64. Each
 * decoding is one linear pass and yields a view mapped to the original text, or null when there was
 * nothing to decode, so ordinary text costs one `indexOf`.
 */

const simpleEscapes: Readonly<Record<string, string>> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
const hexDigits = /^[0-9A-Fa-f]{4}$/;

/** Decodes JSON string escapes wherever they appear; null when there are none. */
export function jsonUnescapeView(view: TextView): TextView | null {
  const { text } = view;
  let backslash = text.indexOf('\\');
  if (backslash === -1) return null;
  const builder = new ViewBuilder(view);
  let copied = 0;
  let decoded = false;
  while (backslash !== -1 && backslash < text.length - 1) {
    const next = text.charAt(backslash + 1);
    const simple = simpleEscapes[next];
    let length = 0;
    let value = '';
    if (simple !== undefined) {
      length = 2;
      value = simple;
    } else if (next === 'u' && hexDigits.test(text.slice(backslash + 2, backslash + 6))) {
      length = 6;
      const character = String.fromCharCode(Number.parseInt(text.slice(backslash + 2, backslash + 6), 16));
      value = isInvisible(character) ? '' : character;
    }
    if (length === 0) {
      backslash = text.indexOf('\\', backslash + 1);
      continue;
    }
    builder.copy(copied, backslash);
    builder.push(value, backslash, backslash + length);
    decoded = true;
    copied = backslash + length;
    backslash = text.indexOf('\\', copied);
  }
  if (!decoded) return null;
  builder.copy(copied, text.length);
  countWork(text.length);
  return normalizeView(builder.build());
}

const utf8 = new TextDecoder('utf-8');

/** Decodes percent-encoded bytes as UTF-8; null when there are none. `+` stays a plus: it is part of addresses. */
export function urlDecodeView(view: TextView): TextView | null {
  const { text } = view;
  let percent = text.indexOf('%');
  if (percent === -1) return null;
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
    const value = utf8.decode(Uint8Array.from(bytes));
    // One character per byte maps each to its own `%XX`; multi-byte characters map to the whole run.
    if (value.length === bytes.length) for (let index = 0; index < value.length; index += 1) builder.push(value.charAt(index), percent + index * 3, percent + index * 3 + 3);
    else builder.push(value, percent, end);
    decoded = true;
    copied = end;
    percent = text.indexOf('%', end);
  }
  if (!decoded) return null;
  builder.copy(copied, text.length);
  countWork(text.length);
  return normalizeView(builder.build());
}

/** A run of base64 that decodes to text, and that text. */
export interface Base64Candidate extends SensitiveSpan {
  readonly decoded: string;
}

const minimumBase64Length = 16;
const isBase64Body = (code: number): boolean => isBase64UrlCharacter(code) || code === 43 || code === 47;

/** Whether decoded bytes read as text: valid UTF-8 and no control characters but whitespace. */
function isReadableText(decoded: string): boolean {
  if (decoded.length < 6 || decoded.includes('\uFFFD')) return false;
  for (let index = 0; index < decoded.length; index += 1) {
    const code = decoded.charCodeAt(index);
    if ((code < 32 && code !== 9 && code !== 10 && code !== 13) || code === 127) return false;
  }
  return true;
}

/**
 * Runs of base64 (standard or URL-safe) that decode to readable text. Image data and hashes decode to bytes
 * that are not UTF-8 text and are left alone; each character is in at most one run, so this is linear.
 */
export function base64Candidates(view: TextView): Base64Candidate[] {
  const { text } = view;
  const candidates: Base64Candidate[] = [];
  let index = 0;
  while (index < text.length) {
    if (!isBase64Body(text.charCodeAt(index))) {
      index += 1;
      continue;
    }
    const start = index;
    let upper = false;
    let lower = false;
    for (; index < text.length && isBase64Body(text.charCodeAt(index)); index += 1) {
      const code = text.charCodeAt(index);
      if (code >= 65 && code <= 90) upper = true;
      else if (code >= 97 && code <= 122) lower = true;
    }
    let end = index;
    while (end < text.length && end - index < 2 && text.charCodeAt(end) === 61) end += 1;
    const length = index - start;
    // Base64 of text mixes both cases; hex digests, paths and words in one case are not decoded.
    if (length >= minimumBase64Length && length % 4 !== 1 && upper && lower) {
      const decoded = Buffer.from(text.slice(start, end), 'base64').toString('utf8');
      countWork(length);
      if (isReadableText(decoded)) candidates.push({ start, end, decoded });
    }
    index = end;
  }
  countWork(text.length);
  return candidates;
}
