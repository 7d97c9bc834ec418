// With the `u` flag a surrogate range matches only surrogates that are not part of a pair.
const loneSurrogate = /[\uD800-\uDFFF]/u;

interface WellFormedString {
  isWellFormed(): boolean;
}

// Node 20's String.prototype.isWellFormed checks in native code; the regular expression is kept for runtimes without it.
const isWellFormed: (text: string) => boolean =
  typeof (String.prototype as Partial<WellFormedString>).isWellFormed === 'function'
    ? (text) => (text as unknown as WellFormedString).isWellFormed()
    : (text) => !loneSurrogate.test(text);

/**
 * The text as it survives UTF-8: each lone surrogate becomes U+FFFD, as Node does when hashing.
 * SQLite would otherwise keep it as three invalid bytes that read back as three U+FFFD, so the
 * content read would no longer match its hash.
 */
export function toWellFormedText(text: string): string {
  return isWellFormed(text) ? text : Buffer.from(text, 'utf8').toString('utf8');
}
