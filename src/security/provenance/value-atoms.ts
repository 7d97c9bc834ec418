/**
 * The pieces of a text that information-flow control traces: identifiers a harmful call would carry (URLs, e-mail
 * addresses, IBANs, file paths, long ids, account and card numbers, amounts) and runs of five words for copied prose.
 * The same extraction runs over context items (to index them) and over a tool call's argument values (to look them
 * up), so a value matches wherever it appears in either form: NFKC, lower case, zero-width characters removed, digits
 * without their group separators.
 */
export type AtomKind = 'url' | 'email' | 'iban' | 'account' | 'amount' | 'path' | 'id' | 'text';

export interface Atom {
  readonly kind: AtomKind;
  /** The normalized value, prefixed with its kind, as the index keys it. */
  readonly key: string;
}

/** Words in a run of prose that count as copied text. */
export const shingleWords = 5;

const zeroWidth = /[\u00ad\u180e\u200b-\u200f\u2060-\u2064\ufeff]/g;
const url = /\b(?:https?|ftp):\/\/[^\s<>"'`\\]{1,2048}/g;
const trailingPunctuation = /[.,;:!?)\]}'"*]+$/;
// Starts only where a local part can start, so a long run without '@' is not tried at every position.
const email = /(?<![a-z0-9._%+-])[a-z0-9._%+-]{1,64}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){1,8}/g;
// IBANs as printed: a country code, two check digits, then groups of four (spaces or dashes optional).
const iban = /\b[a-z]{2}\d{2}(?:[ -]?[a-z0-9]{4}){2,7}(?:[ -]?[a-z0-9]{1,4})?\b/g;
// Account, card and phone numbers: eight or more digits, possibly grouped.
const digitRun = /\d(?:[ -]?\d){7,39}/g;
// A number standing alone: not part of a version (`v2.14.0`), an identifier (`abc123`) or a longer dotted run.
const amount = /(?<![\w.])(?<!\w-)(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\w]|\.\d|-\w)/g;
const unixPath = /(?<![\w:/.~-])(?:~|\.{1,2})?\/(?:[\w.@+-]{1,255}\/){1,32}[\w.@+-]{1,255}/g;
const windowsPath = /\b[a-z]:\\(?:[\w.@+ -]{1,255}\\){0,32}[\w.@+-]{1,255}/g;
// Relative paths (`contracts/master.pdf`) and bare file names: only with an extension files commonly have, so that
// `and/or` or `e.g.` are not paths.
const fileName = /(?<![\w.@+/~-])(?:[\w.@+-]{1,255}\/){0,32}[\w@+-][\w.@+-]{0,254}\.(?:pdf|docx?|xlsx?|pptx?|csv|tsv|txt|md|rtf|json|ya?ml|toml|xml|html?|zip|tar|gz|tgz|7z|rar|png|jpe?g|gif|svg|sql|db|sqlite|sh|ps1|bat|py|js|ts|rb|go|exe|dll|bin|iso|key|pem|crt|env|log|bak|eml|msg|ics)(?!\w|\.\w)/g;
const longId = /[a-z0-9_-]{12,128}/g;
const word = /[\p{L}\p{N}]+/gu;

/** The text as atoms are matched: NFKC, lower case, without zero-width characters. */
export function normalizeForTracing(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(zeroWidth, '');
}

/**
 * Calls `visit` for each atom of `normalized` (from `normalizeForTracing`), in text order per kind. `shingles: false`
 * skips the word runs (for short argument values, where identifiers are what matter).
 */
export function forEachAtom(normalized: string, visit: (atom: Atom) => void, options: { readonly shingles?: boolean } = {}): void {
  for (const match of normalized.matchAll(url)) {
    const value = match[0].replace(trailingPunctuation, '').replace(/\/+$/, '');
    if (value.length > 10) visit({ kind: 'url', key: `url:${value}` });
  }
  for (const match of normalized.matchAll(email)) visit({ kind: 'email', key: `email:${match[0].replace(/^[._%+-]+|[.-]+$/g, '')}` });
  for (const match of normalized.matchAll(iban)) {
    const value = match[0].replace(/[ -]/g, '');
    if (countDigits(value) >= 8) visit({ kind: 'iban', key: `iban:${value}` });
  }
  for (const match of normalized.matchAll(unixPath)) visit({ kind: 'path', key: `path:${match[0].replace(trailingPunctuation, '')}` });
  for (const match of normalized.matchAll(windowsPath)) visit({ kind: 'path', key: `path:${match[0].replace(trailingPunctuation, '')}` });
  for (const match of normalized.matchAll(fileName)) visit({ kind: 'path', key: `path:${match[0]}` });
  for (const match of normalized.matchAll(longId)) {
    if (/\d/.test(match[0]) && /[a-z]/.test(match[0])) visit({ kind: 'id', key: `id:${match[0]}` });
  }
  for (const match of normalized.matchAll(digitRun)) visit({ kind: 'account', key: `account:${match[0].replace(/[ -]/g, '')}` });
  for (const match of normalized.matchAll(amount)) {
    const value = canonicalAmount(match[0]);
    if (value !== null) visit({ kind: 'amount', key: `amount:${value}` });
  }
  if (options.shingles === false) return;
  const window: string[] = [];
  for (const match of normalized.matchAll(word)) {
    window.push(match[0]);
    if (window.length > shingleWords) window.shift();
    if (window.length === shingleWords) visit({ kind: 'text', key: `text:${window.join(' ')}` });
  }
}

/**
 * An amount as a canonical decimal (`1,250.00` and `1250` are both `1250`), or null when it is too common to trace:
 * whole numbers under 100 appear in every text.
 */
function canonicalAmount(raw: string): string | null {
  const plain = raw.replace(/,/g, '');
  const [whole = '', fraction = ''] = plain.split('.');
  const trimmedWhole = whole.replace(/^0+(?=\d)/, '');
  const trimmedFraction = fraction.replace(/0+$/, '');
  if (trimmedFraction === '' && trimmedWhole.length < 3) return null;
  if (trimmedWhole.length > 40) return null;
  return trimmedFraction === '' ? trimmedWhole : `${trimmedWhole}.${trimmedFraction}`;
}

function countDigits(value: string): number {
  let digits = 0;
  for (let index = 0; index < value.length; index += 1) {
    const code = value.charCodeAt(index);
    if (code >= 48 && code <= 57) digits += 1;
  }
  return digits;
}
