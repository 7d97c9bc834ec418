import { countWork, findTokens, runEnd, scanner } from './redaction-scan.ts';
import type { CharacterTest, SensitiveSpan } from './redaction-scan.ts';

/**
 * Private keys in the formats tools print them in: PEM blocks (`-----BEGIN … PRIVATE KEY-----`, PKCS#1,
 * PKCS#8, SEC1, OpenSSH, PGP, encrypted), SSH2 blocks (`---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----`),
 * PuTTY key files (the `Private-Lines` section and its MAC) and age secret keys.
 *
 * A block is scanned, not matched by a pattern: header, then a walk over the body's characters, then the
 * footer. The body's characters include the header's own, so a run of repeated headers is one block; the
 * next search starts after the block, and the whole scan is linear. A block cut off before its footer (a
 * truncated log) is redacted as far as its body goes. Unlike secretlint's rule, the body is not required
 * to start with ASN.1 or OpenSSH magic: a redactor errs toward hiding a key-shaped block.
 */

const labelLimit = 80;

// Base64, whitespace, the escapes of a key inside JSON (`\n`), and the `Proc-Type: 4,ENCRYPTED` headers of old PEM.
const isPemBodyCharacter: CharacterTest = (code) =>
  (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 43 || code === 47 || code === 61 || code === 32 || code === 9 || code === 10 || code === 13 || code === 92 || code === 58 || code === 44 || code === 46 || code === 45;

/** The position after a run of 4 or 5 dashes that ends at `end` (optionally followed by one space), or -1. */
function dashRunStart(text: string, end: number): number {
  let position = end;
  if (text.charCodeAt(position - 1) === 32) position -= 1;
  let dashes = 0;
  while (dashes < 5 && text.charCodeAt(position - 1 - dashes) === 45) dashes += 1;
  return dashes >= 4 ? position - dashes : -1;
}

/** Where the label that starts at `from` ends: at its closing dashes, within a bounded window; -1 when there are none. */
function labelEnd(text: string, from: number): number {
  const limit = Math.min(text.length, from + labelLimit);
  for (let index = from; index < limit; index += 1) {
    const code = text.charCodeAt(index);
    if (code === 45) {
      countWork(index - from + 1);
      return index;
    }
    if (code === 10 || code === 13) break;
  }
  countWork(limit - from + 1);
  return -1;
}

function isPrivateLabel(label: string): boolean {
  return label.includes('PRIVATE KEY') || label.includes('SECRET KEY');
}

/** The end of the `----- END … -----` line at `position`, or -1 when no footer starts there. */
function footerEnd(text: string, position: number): number {
  if (!(text.startsWith('-----END ', position) || text.startsWith('---- END ', position) || text.startsWith('-----END-', position))) return -1;
  const labelStart = text.indexOf('END', position) + 3;
  const end = labelEnd(text, labelStart + 1);
  if (end === -1) return -1;
  return runEnd(text, end, (code) => code === 45);
}

function findPemBlocks(text: string): SensitiveSpan[] {
  const spans: SensitiveSpan[] = [];
  let from = 0;
  let begin: number;
  while ((begin = text.indexOf('BEGIN ', from)) !== -1) {
    countWork(1);
    from = begin + 6;
    const start = dashRunStart(text, begin);
    if (start === -1) continue;
    const end = labelEnd(text, begin + 6);
    if (end === -1 || !isPrivateLabel(text.slice(begin + 6, end))) continue;
    // SSH2 blocks carry a quoted `Comment:` header before the key lines.
    const block = walkBody(text, runEnd(text, end, (code) => code === 45), text.charCodeAt(begin - 1) === 32);
    spans.push({ start, end: block });
    from = block;
  }
  return spans;
}

/** Walks a key body from `from` to its footer's end, or to where the body's characters stop. */
function walkBody(text: string, from: number, quotesInBody: boolean): number {
  let index = from;
  while (index < text.length) {
    const code = text.charCodeAt(index);
    if (code === 45) {
      const footer = footerEnd(text, index);
      if (footer !== -1) {
        countWork(index - from);
        return footer;
      }
    }
    if (!isPemBodyCharacter(code) && !(quotesInBody && code === 34)) break;
    index += 1;
  }
  countWork(index - from + 1);
  // Trailing whitespace and escapes belong to what follows the block, not to it.
  while (index > from && /[\s\\]/.test(text.charAt(index - 1))) index -= 1;
  return index;
}

const isHexOrBase64Line: CharacterTest = (code) => (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 43 || code === 47 || code === 61;

/** PuTTY's `Private-Lines: N` and the N lines of key after it, with the `Private-MAC` line that follows. */
function findPuttyPrivateLines(text: string): SensitiveSpan[] {
  const spans: SensitiveSpan[] = [];
  let from = 0;
  let anchor: number;
  while ((anchor = text.indexOf('Private-Lines:', from)) !== -1) {
    countWork(1);
    let index = runEnd(text, anchor + 14, (code) => code === 32);
    const countEnd = runEnd(text, index, (code) => code >= 48 && code <= 57);
    const lines = Math.min(Number(text.slice(index, countEnd) || '0'), 4096);
    index = countEnd;
    for (let line = 0; line < lines; line += 1) {
      const next = runEnd(text, runEnd(text, index, (code) => code === 13 || code === 10 || code === 92 || code === 110), isHexOrBase64Line);
      if (next === index) break;
      index = next;
    }
    const lineStart = runEnd(text, index, (code) => code === 13 || code === 10 || code === 92 || code === 110);
    if (text.startsWith('Private-MAC:', lineStart)) index = runEnd(text, runEnd(text, lineStart + 12, (code) => code === 32), isHexOrBase64Line);
    spans.push({ start: anchor, end: index });
    from = Math.max(index, anchor + 14);
  }
  return spans;
}

const ageSecretKey = { prefix: scanner(/(?<![A-Za-z0-9-])AGE-SECRET-KEY-1/), body: (code: number) => (code >= 48 && code <= 57) || (code >= 65 && code <= 90), minLength: 50, redactPrefix: true };

export function findPrivateKeys(text: string): SensitiveSpan[] {
  return [...findPemBlocks(text), ...findPuttyPrivateLines(text), ...findTokens(text, ageSecretKey)];
}

export function mayContainPrivateKey(text: string): boolean {
  return text.includes('BEGIN ') || text.includes('Private-Lines:') || text.includes('AGE-SECRET-KEY-');
}
