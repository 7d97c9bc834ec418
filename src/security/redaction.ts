import { KeelError } from '../errors/index.ts';
import { mergeFindings } from './finding.ts';
import type { Finding } from './finding.ts';
import { redactionDetectors, redactionTypes } from './redaction-detectors.ts';
import type { RedactionDetector, RedactionType } from './redaction-detectors.ts';

/**
 * Replaces secrets and personal data with typed markers (`[REDACTED:email]`) before text reaches a
 * model, a log or the audit trail (seed §12.3). Findings carry counts, never the redacted text.
 */

export interface RedactionOptions {
  /** Which kinds to redact; all of them by default. */
  readonly types?: readonly RedactionType[];
}

export interface Redaction {
  readonly text: string;
  /** One entry per type found, in the detectors' order; empty when nothing was redacted. */
  readonly findings: readonly Finding[];
}

export interface ValueRedaction {
  readonly value: unknown;
  readonly findings: readonly Finding[];
}

export interface Redactor {
  readonly types: readonly RedactionType[];
  redactText(text: string): Redaction;
  /** Redacts every string in a JSON-like value, keys included, and returns a new value; findings in order of first appearance. */
  redactValue(value: unknown): ValueRedaction;
}

export function redactionMarker(type: RedactionType): string {
  return `[REDACTED:${type}]`;
}

interface Claim {
  readonly start: number;
  readonly end: number;
  readonly type: RedactionType;
}

export function createRedactor(options: RedactionOptions = {}): Redactor {
  const types = options.types ?? redactionTypes;
  const unknown = types.find((type) => !redactionTypes.includes(type));
  if (unknown !== undefined) throw new KeelError('invalid-config', `Unknown redaction type "${String(unknown)}"; known types: ${redactionTypes.join(', ')}.`);
  const detectors = redactionDetectors.filter((detector) => types.includes(detector.type));

  function redactText(text: string): Redaction {
    const claims = claimSpans(text, detectors);
    if (claims.length === 0) return { text, findings: [] };
    const counts = new Map<RedactionType, number>();
    let result = '';
    let position = 0;
    for (const claim of claims) {
      result += text.slice(position, claim.start) + redactionMarker(claim.type);
      position = claim.end;
      counts.set(claim.type, (counts.get(claim.type) ?? 0) + 1);
    }
    result += text.slice(position);
    const findings = detectors.flatMap((detector) => {
      const count = counts.get(detector.type);
      return count === undefined ? [] : [{ type: detector.type, count }];
    });
    return { text: result, findings };
  }

  function redactValue(value: unknown): ValueRedaction {
    const found: Finding[] = [];
    const visit = (item: unknown): unknown => {
      if (typeof item === 'string') {
        const redaction = redactText(item);
        found.push(...redaction.findings);
        return redaction.text;
      }
      if (Array.isArray(item)) return item.map(visit);
      if (item !== null && typeof item === 'object') {
        const result: Record<string, unknown> = {};
        for (const [key, entry] of Object.entries(item)) {
          const redactedKey = redactText(key);
          found.push(...redactedKey.findings);
          // Two keys that redact to the same marker must both survive, or the value of one would vanish.
          let name = redactedKey.text;
          for (let copy = 2; Object.hasOwn(result, name); copy += 1) name = `${redactedKey.text} (${copy})`;
          result[name] = visit(entry);
        }
        return result;
      }
      return item;
    };
    const redacted = visit(value);
    return { value: redacted, findings: mergeFindings(found) };
  }

  return { types, redactText, redactValue };
}

/** Redacts with every detector; build a `createRedactor` once to choose types. */
export function redactText(text: string, options: RedactionOptions = {}): Redaction {
  return createRedactor(options).redactText(text);
}

function countDigits(text: string): number {
  let count = 0;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code >= 48 && code <= 57) count += 1;
  }
  return count;
}

/**
 * A necessary condition for each type, checked before its patterns run: most tool output holds no secret,
 * and a substring test costs a fraction of a regular-expression scan. A prefilter may say yes wrongly, never no.
 */
function mayContain(type: RedactionDetector['type'], text: string, digits: number): boolean {
  switch (type) {
    case 'private-key':
      return text.includes('PRIVATE KEY');
    case 'anthropic-key':
      return text.includes('sk-ant');
    case 'openai-key':
      return text.includes('sk-');
    case 'aws-access-key':
      return text.includes('IA') || text.includes('A3T') || text.includes('ACCA');
    case 'github-token':
      return text.includes('gh') || text.includes('github_pat_');
    case 'slack-token':
      return text.includes('xox') || text.includes('hooks.slack.com');
    case 'jwt':
      return text.includes('eyJ');
    case 'bearer-token':
      return /bearer/i.test(text);
    case 'url-password':
      return text.includes('://');
    case 'email':
      return text.includes('@');
    case 'iban':
      return digits >= 4 && /[A-Z]{2}\d{2}/.test(text);
    case 'card-number':
      return digits >= 12;
    case 'phone':
      return digits >= 6;
    case 'ipv4':
      return digits >= 4 && text.includes('.');
  }
}

/**
 * Earlier detectors claim first; a later detector's span that overlaps a claimed one is dropped,
 * so every character is redacted at most once and under the most specific type.
 */
function claimSpans(text: string, detectors: readonly RedactionDetector[]): readonly Claim[] {
  const claimed: Claim[] = [];
  const digits = countDigits(text);
  for (const detector of detectors) {
    if (!mayContain(detector.type, text, digits)) continue;
    for (const span of detector.find(text)) {
      if (span.end <= span.start) continue;
      const position = insertionPoint(claimed, span);
      const before = claimed[position - 1];
      if (before !== undefined && before.end > span.start) continue;
      claimed.splice(position, 0, { start: span.start, end: span.end, type: detector.type });
    }
  }
  return claimed;
}

/**
 * Where a span goes in `claims`, which is sorted by start and never overlaps itself: after the last
 * claim starting before the span ends. That claim is the only one that can overlap the span.
 */
function insertionPoint(claims: readonly Claim[], span: { readonly start: number; readonly end: number }): number {
  let low = 0;
  let high = claims.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (claims[middle]!.start < span.end) low = middle + 1;
    else high = middle;
  }
  return low;
}
