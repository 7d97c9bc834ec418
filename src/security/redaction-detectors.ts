import { ibanLength, isCardIssuerNumber, passesIbanChecksum, passesLuhn } from './checksums.ts';

/**
 * What redaction looks for, most specific first: where two detectors claim overlapping text, the
 * earlier one in `redactionDetectors` wins (a JWT after `Bearer` is reported as a JWT).
 *
 * Every pattern is anchored by a look-behind and bounded or linear, so a megabyte of base64 or of
 * digits is scanned in linear time; and every pattern errs toward the look-alikes that fill tool
 * output (order numbers, timestamps, versions, hashes, dates), which is why phone numbers need a
 * `+`, brackets or consistent separators, and card numbers and IBANs must pass their check digits.
 */

export type RedactionType =
  | 'private-key'
  | 'anthropic-key'
  | 'openai-key'
  | 'aws-access-key'
  | 'github-token'
  | 'slack-token'
  | 'jwt'
  | 'bearer-token'
  | 'url-password'
  | 'email'
  | 'iban'
  | 'card-number'
  | 'phone'
  | 'ipv4';

/** A half-open range of UTF-16 code units, `[start, end)`. */
export interface SensitiveSpan {
  readonly start: number;
  readonly end: number;
}

export interface RedactionDetector {
  readonly type: RedactionType;
  find(text: string): Iterable<SensitiveSpan>;
}

/** Returns the span to redact (by default the named group `value`, else the whole match), or undefined to reject the match. */
type Accept = (match: RegExpExecArray, text: string) => SensitiveSpan | undefined;

function defaultSpan(match: RegExpExecArray): SensitiveSpan {
  const value = match.indices?.groups?.value;
  if (value !== undefined) return { start: value[0], end: value[1] };
  return { start: match.index, end: match.index + match[0].length };
}

function regexDetector(type: RedactionType, patterns: readonly RegExp[], accept: Accept = defaultSpan): RedactionDetector {
  // Fresh copies with `g` (to scan) and `d` (group positions), so callers' flags and lastIndex never leak between scans.
  const sources = patterns.map((pattern) => ({ source: pattern.source, flags: `${pattern.flags.replace(/[gdy]/g, '')}gd` }));
  return {
    type,
    *find(text) {
      for (const { source, flags } of sources) {
        const scanner = new RegExp(source, flags);
        let match: RegExpExecArray | null;
        while ((match = scanner.exec(text)) !== null) {
          const span = accept(match, text);
          // A rejected match resumes one character later, not after it: a real secret may start inside it.
          if (span === undefined) scanner.lastIndex = match.index + 1;
          else {
            yield span;
            scanner.lastIndex = Math.max(span.end, match.index + 1);
          }
        }
      }
    },
  };
}

const hasDigit = /\d/;
const hasLetter = /[A-Za-z]/;

function acceptRandomLooking(match: RegExpExecArray): SensitiveSpan | undefined {
  const span = defaultSpan(match);
  const value = match.input.slice(span.start, span.end);
  return hasDigit.test(value) && hasLetter.test(value) ? span : undefined;
}

const privateKey = regexDetector('private-key', [
  // A block cut off before its END line (a truncated log, say) is redacted up to where its body stops.
  /-----BEGIN (?<kind>[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?)-----(?:[\s\S]*?-----END \k<kind>-----|[A-Za-z0-9+/=\s\\:,.-]*)/,
]);

const anthropicKey = regexDetector('anthropic-key', [/(?<![A-Za-z0-9_-])sk-ant-[A-Za-z0-9_-]{20,}/]);

// `sk-proj-…`, `sk-svcacct-…`, `sk-admin-…` and legacy `sk-…`; the body must mix letters and digits, as random keys do.
const openaiKey = regexDetector('openai-key', [/(?<![A-Za-z0-9_-])sk-(?!ant-)[A-Za-z0-9_-]{20,}/], acceptRandomLooking);

const awsAccessKey = regexDetector('aws-access-key', [/(?<![A-Za-z0-9])(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])/]);

const githubToken = regexDetector('github-token', [/(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})/]);

const slackToken = regexDetector('slack-token', [
  /(?<![A-Za-z0-9])(?:xox[abposre]|xapp)-[A-Za-z0-9-]{10,}/,
  /https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9/_-]{20,}/,
]);

// Header and payload are base64url JSON objects, so both start with `eyJ` (`{"`).
const jwt = regexDetector('jwt', [/(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/]);

// Only the credential is replaced, so "Authorization: Bearer [REDACTED:bearer-token]" still reads as what it was.
const bearerToken = regexDetector('bearer-token', [/(?<![A-Za-z])bearer[ \t]+(?<value>[A-Za-z0-9._~+/-]{16,}=*)/i], (match) => {
  const span = defaultSpan(match);
  return hasDigit.test(match.input.slice(span.start, span.end)) ? span : undefined;
});

const urlPassword = regexDetector('url-password', [/\b[A-Za-z][A-Za-z0-9+.-]{1,20}:\/\/[^\s/:@]{1,256}:(?<value>[^\s/@]{1,256})@/]);

const email = regexDetector(
  'email',
  [/(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24}(?![A-Za-z0-9-])/],
  (match, text) => {
    // `icon@2x.png` names an image at twice the resolution, not a mailbox.
    if (/@\d+x\./i.test(match[0])) return undefined;
    // `ssh://git@github.com/…` and `git@github.com:acme/app.git` name an account on a host, not a mailbox.
    if (text.slice(Math.max(0, match.index - 3), match.index) === '://') return undefined;
    if (/^:[^\s]/.test(text.slice(match.index + match[0].length, match.index + match[0].length + 2))) return undefined;
    return defaultSpan(match);
  },
);

const iban = regexDetector('iban', [/(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,40}/], (match, text) => {
  const length = ibanLength(match[0].slice(0, 2));
  if (length === undefined) return undefined;
  let compact = '';
  let end = match.index;
  for (const character of match[0]) {
    if (compact.length === length) break;
    end += 1;
    if (character !== ' ') compact += character;
  }
  if (compact.length < length || /[A-Za-z0-9]/.test(text.charAt(end))) return undefined;
  const written = text.slice(match.index, end);
  // Printed IBANs are grouped by four; any other spacing is a run of words that happens to line up.
  if (written.includes(' ') && !written.split(' ').every((group, index, groups) => group.length === 4 || (index === groups.length - 1 && group.length > 0 && group.length < 4))) {
    return undefined;
  }
  return passesIbanChecksum(compact) ? { start: match.index, end } : undefined;
});

// A run of digit groups joined by single spaces or dashes; the card is looked for inside it, group-aligned.
// After `+` it is an international phone number, after a dash or a letter part of a reference.
const digitRun = /(?<![\w.,+-])\d+(?:[ -]\d+)*(?!\w|[.,]\d)/g;

interface DigitGroup {
  readonly start: number;
  readonly end: number;
}

const cardNumber: RedactionDetector = {
  type: 'card-number',
  *find(text) {
    for (const run of text.matchAll(digitRun)) {
      const groups: DigitGroup[] = [];
      for (const group of run[0].matchAll(/\d+/g)) groups.push({ start: run.index + group.index, end: run.index + group.index + group[0].length });
      let first = 0;
      while (first < groups.length) {
        const last = longestCardEndingAt(text, groups, first);
        if (last === undefined) first += 1;
        else {
          yield { start: groups[first]!.start, end: groups[last]!.end };
          first = last + 1;
        }
      }
    }
  },
};

function longestCardEndingAt(text: string, groups: readonly DigitGroup[], first: number): number | undefined {
  // Cheap refusals first, so a long run of short groups ("1 2 3 …") costs one look per group.
  const firstLength = groups[first]!.end - groups[first]!.start;
  if (firstLength !== 4 && (firstLength < 13 || firstLength > 19)) return undefined;
  if (!/[2-6]/.test(text.charAt(groups[first]!.start))) return undefined;
  let digits = 0;
  let last = first;
  while (last < groups.length && digits + groups[last]!.end - groups[last]!.start <= 19) {
    digits += groups[last]!.end - groups[last]!.start;
    last += 1;
  }
  for (let candidate = last - 1; candidate >= first; candidate -= 1) {
    if (isCardWindow(text, groups, first, candidate)) return candidate;
  }
  return undefined;
}

function isCardWindow(text: string, groups: readonly DigitGroup[], first: number, last: number): boolean {
  const window = groups.slice(first, last + 1);
  const digits = window.map((group) => text.slice(group.start, group.end)).join('');
  if (digits.length < 13 || digits.length > 19) return false;
  if (window.length > 1) {
    // Printed cards are grouped 4-4-4-4, 4-6-5 or 4-6-4, with one kind of separator.
    const separators = new Set(window.slice(1).map((group) => text.charAt(group.start - 1)));
    if (separators.size !== 1) return false;
    const lengths = window.map((group) => group.end - group.start);
    if (lengths[0] !== 4 || !lengths.every((length, index) => (index === lengths.length - 1 ? length >= 1 : length >= 3) && length <= 6)) return false;
  }
  return isCardIssuerNumber(digits) && passesLuhn(digits);
}

function countDigits(value: string): number {
  return value.replace(/\D/g, '').length;
}

const phone = regexDetector(
  'phone',
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
    const digits = countDigits(match[0]);
    return digits >= 8 && digits <= 15 ? defaultSpan(match) : undefined;
  },
);

const octet = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const netmaskOctets = new Set(['0', '128', '192', '224', '240', '248', '252', '254', '255']);

const ipv4 = regexDetector('ipv4', [new RegExp(`(?<![\\w.])${octet}(?:\\.${octet}){3}(?!\\w|\\.\\d)`)], (match) => {
  const octets = match[0].split('.');
  // 1.2.3.4 and 8.8.8.8 look the same as version numbers and identify no one; loopback, unspecified
  // and netmasks identify nothing either.
  if (octets.every((part) => part.length === 1)) return undefined;
  if (octets[0] === '127' || match[0] === '0.0.0.0') return undefined;
  if (octets[0] === '255' && octets.every((part) => netmaskOctets.has(part))) return undefined;
  return defaultSpan(match);
});

export const redactionDetectors: readonly RedactionDetector[] = [
  privateKey,
  anthropicKey,
  openaiKey,
  awsAccessKey,
  githubToken,
  slackToken,
  jwt,
  bearerToken,
  urlPassword,
  email,
  iban,
  cardNumber,
  phone,
  ipv4,
];

export const redactionTypes: readonly RedactionType[] = redactionDetectors.map((detector) => detector.type);
