import { ibanLength, passesIbanChecksum } from './checksums.ts';
import { findCardNumbers } from './redaction-cards.ts';
import { defaultSpan, matchSpans, scanner } from './redaction-scan.ts';
import type { Detector } from './redaction-scan.ts';

/**
 * Personal data: hidden from everything that leaves the process, and from the model unless a tool's policy
 * reveals a kind (the address to reply to, the IBAN on the bill to pay). Every pattern errs toward the
 * look-alikes that fill tool output (order numbers, timestamps, versions, hashes, dates): phone numbers need
 * a `+`, brackets or consistent separators, card numbers and IBANs must pass their check digits, and social
 * security numbers are dashed or follow their name.
 */

export type PersonalDataType = 'email' | 'iban' | 'card-number' | 'us-ssn' | 'phone' | 'ipv4';

function regexDetector(type: PersonalDataType, mayContain: (text: string) => boolean, patterns: readonly RegExp[], accept?: Parameters<typeof matchSpans>[2]): Detector<PersonalDataType> {
  const scanners = patterns.map(scanner);
  return { type, mayContain, find: (text) => scanners.flatMap((pattern) => matchSpans(pattern, text, accept)) };
}

// Internationalized addresses too (`jörg@bücher.de`, punycode domains); the text is NFKC-normalized first, so a
// full-width `＠` is an `@` here.
const email = regexDetector(
  'email',
  (text) => text.includes('@'),
  [/(?<![\p{L}\p{N}._%+-])[\p{L}\p{N}._%+-]{1,64}@(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.){1,8}(?:\p{L}{2,24}|xn--[a-z0-9-]{1,59})(?![\p{L}\p{N}-])/u],
  (match, text) => {
    // `icon@2x.png` names an image at twice the resolution, not a mailbox.
    if (/@\d{1,2}x\./i.test(match[0])) return undefined;
    // `ssh://git@github.com/…`, `https://user:pass@host` and `git@github.com:acme/app.git` name an account on a host, not a mailbox.
    if (isInUrlAuthority(text, match.index)) return undefined;
    const after = match.index + match[0].length;
    if (text.charAt(after) === ':' && /\S/.test(text.charAt(after + 1))) return undefined;
    return defaultSpan(match);
  },
);

/** Whether `index` is inside the user part of a URL: `://` comes before it with no space, slash or `@` between (bounded look). */
function isInUrlAuthority(text: string, index: number): boolean {
  const floor = Math.max(0, index - 256);
  for (let position = index - 1; position >= floor + 2; position -= 1) {
    const code = text.charCodeAt(position);
    if (code === 47) return text.charCodeAt(position - 1) === 47 && text.charCodeAt(position - 2) === 58;
    if (code <= 32) return false;
  }
  return false;
}

const ibanSeparators = /[ -]/;

/** Printed IBANs are grouped by four with one kind of separator; any other spacing is words that happen to line up. */
function isIbanGrouping(written: string): boolean {
  const separator = ibanSeparators.exec(written)?.[0];
  if (separator === undefined) return true;
  const groups = written.split(separator);
  return groups.every((group, index) => group.length === 4 || (index === groups.length - 1 && group.length > 0 && group.length < 4));
}

// Upper or lower case (`de89 3704 …`), grouped by spaces or dashes; the length of the country and mod-97 decide.
const iban = regexDetector('iban', (text) => /[A-Za-z]{2}\d{2}/.test(text), [/(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ -]?[A-Za-z0-9]){11,40}/], (match, text) => {
  const written = match[0];
  const length = ibanLength(written.slice(0, 2).toUpperCase());
  if (length === undefined) return undefined;
  let compact = '';
  let end = match.index;
  for (const character of written) {
    if (compact.length === length) break;
    end += 1;
    if (!ibanSeparators.test(character)) compact += character;
  }
  if (compact.length < length || /[A-Za-z0-9]/.test(text.charAt(end))) return undefined;
  const letters = compact.replace(/[^A-Za-z]/g, '');
  if (letters !== letters.toUpperCase() && letters !== letters.toLowerCase()) return undefined;
  if (!isIbanGrouping(text.slice(match.index, end))) return undefined;
  return passesIbanChecksum(compact.toUpperCase()) ? { start: match.index, end } : undefined;
});

const cardNumber: Detector<PersonalDataType> = { type: 'card-number', mayContain: (text) => /\d{4}/.test(text) || /\d[ .-]\d/.test(text), find: findCardNumbers };

// Dashed (the printed form), or after its name; area 000, 666 and 900–999, group 00 and serial 0000 are never issued.
const usSsn = regexDetector(
  'us-ssn',
  (text) => /\d{3}-\d{2}-\d{4}/.test(text) || /ssn|social sec|soc\.? ?sec/i.test(text),
  [
    /(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])/,
    /(?<![A-Za-z])(?:ssn|social security(?: number)?|soc\.? ?sec\.?)[ \t:#.-]{0,6}(?:no\.?|number|nr\.?)?[ \t:#]{0,4}(?<value>(?!000|666|9\d\d)\d{3}[ .]?(?!00)\d{2}[ .]?(?!0000)\d{4})(?![\w-])/i,
  ],
);

const phoneDigits = /\d/g;

/** Whether `text` holds at least `count` digits; stops counting once it does. */
function hasDigits(text: string, count: number): boolean {
  let found = 0;
  for (let index = 0; index < text.length && found < count; index += 1) {
    const code = text.charCodeAt(index);
    if (code >= 48 && code <= 57) found += 1;
  }
  return found >= count;
}

const phone = regexDetector(
  'phone',
  (text) => hasDigits(text, 8),
  [
    // E.164, written compactly (+14155552671) or with separators (+44 20 7946 0958, +1 (415) 555-2671).
    /(?<![\w+])\+[1-9](?:\d{7,14}(?!\d)|\d{0,3}(?:[ .-](?:\(\d{1,4}\) ?)?\d{1,8}){1,6})(?!\w|[.-]\d)/,
    // North American: (415) 555-2671, 415-555-2671, 415.555.2671; bare spaces are too common in tables of numbers.
    /(?<![\w+.\-/])(?:\([2-9]\d{2}\) ?[2-9]\d{2}[-. ]\d{4}|[2-9]\d{2}(?<separator>[-.])[2-9]\d{2}\k<separator>\d{4})(?!\w|[.\-/]\d)/,
    // French: 01 23 45 67 89, 06.12.34.56.78.
    /(?<![\w+.\-/])0[1-9](?<separator>[ .])\d{2}(?:\k<separator>\d{2}){3}(?!\w|[.\-/ ]\d)/,
    // British: 020 7946 0958, 0161 496 0000, 07700 900123.
    /(?<![\w+.\-/])0(?:\d{2} \d{4} \d{4}|\d{3} \d{3} \d{4}|\d{4} \d{3} \d{3}|\d{4} \d{6})(?!\w|[.\-/ ]\d)/,
  ],
  (match) => {
    const digits = match[0].match(phoneDigits)?.length ?? 0;
    return digits >= 8 && digits <= 15 ? defaultSpan(match) : undefined;
  },
);

const octet = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const netmaskOctets = new Set(['0', '128', '192', '224', '240', '248', '252', '254', '255']);

const ipv4 = regexDetector('ipv4', (text) => /\d\.\d/.test(text), [new RegExp(`(?<![\\w.])${octet}(?:\\.${octet}){3}(?!\\w|\\.\\d)`)], (match) => {
  const octets = match[0].split('.');
  // 1.2.3.4 and 8.8.8.8 look the same as version numbers and identify no one; loopback, unspecified
  // and netmasks identify nothing either.
  if (octets.every((part) => part.length === 1)) return undefined;
  if (octets[0] === '127' || match[0] === '0.0.0.0') return undefined;
  if (octets[0] === '255' && octets.every((part) => netmaskOctets.has(part))) return undefined;
  return defaultSpan(match);
});

export const personalDataDetectors: readonly Detector<PersonalDataType>[] = [email, iban, cardNumber, usSsn, phone, ipv4];
