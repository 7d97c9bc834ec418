import { hash } from 'node:crypto';

/**
 * The SHA-256 of a text's UTF-16 code units, for memos keyed by content that must not keep the text alive (a short
 * slice keeps its parent string). Not of its UTF-8: there a lone surrogate and U+FFFD encode alike, and two texts a
 * detector may judge differently would share a key.
 */
export function textDigest(text: string): string {
  return hash('sha256', Buffer.from(text, 'utf16le'), 'base64');
}
