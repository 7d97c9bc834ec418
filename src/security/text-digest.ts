import { hash } from 'node:crypto';
import { RecentKeys } from './recent-keys.ts';

/**
 * The SHA-256 of a text's UTF-16 code units, for memos keyed by content that must not keep the text alive (a short
 * slice keeps its parent string). Not of its UTF-8: there a lone surrogate and U+FFFD encode alike, and two texts a
 * detector may judge differently would share a key.
 */
export function textDigest(text: string): string {
  return hash('sha256', Buffer.from(text, 'utf16le'), 'base64');
}

/** Fingerprints kept: far more than the memos behind them hold, so a repeat is still recognised after other texts. */
const fingerprintEntries = 8_192;

/**
 * Digests only for texts that may repeat: a text is digested from its second sighting on, judged by a 32-bit
 * fingerprint (FNV-1a of its code units and its length). A fingerprint is never the key: a colliding fingerprint
 * costs one digest and nothing else. So the many texts met once (most tool outputs) cost a pass of arithmetic, not
 * a SHA-256 and a memo entry.
 */
export class RepeatedTextDigests {
  private readonly seen = new RecentKeys<number>(fingerprintEntries);

  /** The text's digest when its fingerprint was met before; otherwise null, and the fingerprint is noted. */
  digestIfRepeated(text: string): string | null {
    const fingerprint = fingerprintOf(text);
    if (this.seen.has(fingerprint)) return textDigest(text);
    this.seen.add(fingerprint);
    return null;
  }
}

function fingerprintOf(text: string): number {
  let value = 0x811c9dc5 ^ text.length;
  for (let index = 0; index < text.length; index += 1) value = Math.imul(value ^ text.charCodeAt(index), 0x01000193);
  return value | 0;
}
