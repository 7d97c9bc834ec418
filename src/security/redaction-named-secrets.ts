import { countWork, entropyBits, looksRandom, runEnd, scanner, stickyScanner } from './redaction-scan.ts';
import type { CharacterTest, SensitiveSpan } from './redaction-scan.ts';

/**
 * Values given to a secret-like name: `password=…`, `"api_key": "…"`, `X-Api-Key: …`, `?access_token=…&`,
 * `client_secret => …`, and a high-entropy token that merely follows such a name (`service token 9f…`).
 * Only the value is redacted, so the text still says what it held.
 *
 * The name is found first (a bounded alternation), then the separator with a sticky bounded pattern, then
 * the value by a walk; the scan resumes after the value, so it is linear. Prose that mentions a password
 * ("Reset your password: it takes a minute") is told apart by the value: after `: ` or ` = ` it must look
 * like a secret (a digit or symbol, six characters or more), after a bare `=` (`password=hunter2`, a query
 * string) anything but a placeholder, after whitespace alone it must be long and random.
 */

// The name must end at the keyword: `max_tokens`, `password_hint` and `token_count` are not secrets.
const keyword = scanner(
  /(?:pass(?:word|wd|phrase)?|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|auth[_-]?key|credentials?|session[_-]?(?:id|key)|signature|sig)(?![A-Za-z0-9_])/i,
);
// Short keywords are words inside other words (`bypass`, `compass`); they count only as a whole name part.
// `pwd` is left out: in an environment dump `PWD=/home/app` is the working directory.
const shortKeywords = new Set(['pass', 'sig']);
const separator = stickyScanner(/["']?(?<before>[ \t]{0,4})(?<separator>:=|=>|=|:|)(?<after>[ \t]{0,4})(?<quote>["'`]?)/);

const placeholder = /^(?:\*{3,}|[xX]{3,}|\.{3}|…|<.{0,64}>|\$\{|\{\{|\$[A-Z_][A-Z0-9_]{0,64}$|%[A-Z_]{1,64}%$|null$|none$|nil$|true$|false$|undefined$|\[REDACTED|process\.env|os\.environ|System\.getenv|ENV\[)/i;
const dottedPath = /^[A-Za-z_$][\w$]{0,64}(?:\.[\w$]{1,64}){1,8}$/;
const nonLetter = /[^A-Za-z]/;

const isUnquotedValueCharacter: CharacterTest = (code) =>
  code > 32 && code !== 34 && code !== 39 && code !== 96 && code !== 44 && code !== 59 && code !== 38 && code !== 60 && code !== 62 && code !== 40 && code !== 41 && code !== 91 && code !== 93 && code !== 125;

function isShortKeywordBoundary(text: string, index: number): boolean {
  if (index === 0) return true;
  const previous = text.charCodeAt(index - 1);
  const isLower = previous >= 97 && previous <= 122;
  const isUpper = previous >= 65 && previous <= 90;
  const startsUpper = text.charCodeAt(index) >= 65 && text.charCodeAt(index) <= 90;
  // `db_pass`, `X-Sig`, and camelCase `dbPass` are name parts; `bypass` is not.
  return !(isLower || (isUpper && !startsUpper) || (previous >= 48 && previous <= 57));
}

interface Assignment {
  readonly name: string;
  readonly separator: string;
  readonly spaced: boolean;
  readonly quoted: boolean;
  readonly value: string;
  readonly followedBy: string;
}

function acceptValue(assignment: Assignment): boolean {
  const { value } = assignment;
  if (value.length === 0 || placeholder.test(value)) return false;
  // "Using credentials AKIA…/20260115/us-east-1/…" names what follows without assigning it.
  if (assignment.separator === '') return !assignment.name.startsWith('credential') && value.length >= 20 && looksRandom(value) && entropyBits(value) >= 3.5;
  if (assignment.quoted) return true;
  if (assignment.followedBy === '(' || dottedPath.test(value)) return false;
  if (assignment.separator === '=' && !assignment.spaced) return value.length >= 3;
  return value.length >= 6 && nonLetter.test(value);
}

// Keys are at most 64 characters, so this runs on bounded text.
const nameEnding = new RegExp(`(?:${keyword.source})$`, 'i');

/**
 * Whether a JSON key names a secret (`password`, `api_key`, `clientSecret`, `X-Auth-Token`), for values given
 * as JSON, where the name and the value are separate strings.
 */
export function isSecretName(name: string): boolean {
  if (name.length > 64) return false;
  const match = nameEnding.exec(name);
  if (match === null) return false;
  const start = name.length - match[0].length;
  return !shortKeywords.has(match[0].toLowerCase()) || isShortKeywordBoundary(name, start);
}

/** Whether a value given to a secret-like name is a placeholder rather than a secret (`***`, `<token>`, `${TOKEN}`). */
export function isPlaceholderValue(value: string): boolean {
  return value.length === 0 || placeholder.test(value);
}

export function findNamedSecrets(text: string): SensitiveSpan[] {
  const spans: SensitiveSpan[] = [];
  keyword.lastIndex = 0;
  let match: RegExpExecArray | null;
  let scannedTo = 0;
  while ((match = keyword.exec(text)) !== null) {
    countWork(1 + Math.max(0, match.index + match[0].length - scannedTo));
    scannedTo = match.index + match[0].length;
    if (shortKeywords.has(match[0].toLowerCase()) && !isShortKeywordBoundary(text, match.index)) continue;
    separator.lastIndex = match.index + match[0].length;
    const parts = separator.exec(text)?.groups;
    if (parts === undefined) continue;
    if ((parts.separator ?? '') === '' && (parts.before ?? '') === '' && (parts.after ?? '') === '') continue;
    const valueStart = separator.lastIndex;
    const quote = parts.quote ?? '';
    const valueEnd = quote === '' ? runEnd(text, valueStart, isUnquotedValueCharacter) : runEnd(text, valueStart, (code) => code !== quote.charCodeAt(0) && code !== 10 && code !== 13);
    const assignment: Assignment = {
      name: match[0].toLowerCase(),
      separator: parts.separator ?? '',
      spaced: (parts.before ?? '') !== '' || (parts.after ?? '') !== '',
      quoted: quote !== '',
      value: text.slice(valueStart, valueEnd),
      followedBy: text.charAt(valueEnd),
    };
    if (acceptValue(assignment)) spans.push({ start: valueStart, end: valueEnd });
    // Past the value either way, so no stretch of text is walked twice.
    keyword.lastIndex = Math.max(keyword.lastIndex, valueEnd);
  }
  countWork(Math.max(0, text.length - scannedTo));
  keyword.lastIndex = 0;
  return spans;
}
