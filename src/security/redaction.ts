import { KeelError } from '../errors/index.ts';
import { mergeFindings } from './finding.ts';
import type { Finding } from './finding.ts';
import { findClaims } from './redaction-claims.ts';
import { redactionDetectors, redactionTypes, secretTypes } from './redaction-detectors.ts';
import type { PersonalDataType, RedactionDetector, RedactionType } from './redaction-detectors.ts';
import { isPlaceholderValue, isSecretName } from './redaction-named-secrets.ts';
import { pointerSegment, revealNothing } from './redaction-policy.ts';
import type { RevealPolicy } from './redaction-policy.ts';

/**
 * Replaces secrets and personal data with typed markers (`[REDACTED:email]`) before text reaches a model, a
 * log or the audit trail. The text is normalized (NFKC, invisible characters removed) and decoded (JSON
 * escapes, percent-encoding, base64) before the detectors look, and what they find is redacted in the text as
 * written. Findings say which kind was redacted and where (`locations`), never the value.
 *
 * Redaction is not a defence against prompt injection: text that spells a secret out
 * (`name [at] host [dot] example`) or encodes it in a way not decoded here passes through.
 */

export interface RedactionOptions {
  /** Which kinds to redact; all of them by default. Secrets are redacted even when left out of the list. */
  readonly types?: readonly RedactionType[];
}

/** Where a marker stands in the redacted text: its kind, its offset, and the JSON pointer of the string holding it. */
export interface RedactionLocation {
  readonly type: RedactionType;
  readonly offset: number;
  /** The JSON pointer of the string the marker is in, for redacted values; absent for plain text. */
  readonly path?: string;
}

export interface Redaction {
  readonly text: string;
  /** One entry per type found, in the detectors' order; empty when nothing was redacted. */
  readonly findings: readonly Finding[];
  readonly locations: readonly RedactionLocation[];
}

export interface ValueRedaction {
  readonly value: unknown;
  readonly findings: readonly Finding[];
  readonly locations: readonly RedactionLocation[];
}

export interface RedactCallOptions {
  /** Personal data left in place for this call (the model's view of a tool that reveals it); secrets never are. */
  readonly reveal?: RevealPolicy;
}

export interface Redactor {
  readonly types: readonly RedactionType[];
  redactText(text: string, options?: RedactCallOptions): Redaction;
  /** Redacts every string in a JSON-like value, keys included, and returns a new value; findings in order of first appearance. */
  redactValue(value: unknown, options?: RedactCallOptions): ValueRedaction;
}

export function redactionMarker(type: RedactionType): string {
  return `[REDACTED:${type}]`;
}

function chosenTypes(options: RedactionOptions): readonly RedactionType[] {
  const given = options.types ?? redactionTypes;
  const unknown = given.find((type) => !redactionTypes.includes(type));
  if (unknown !== undefined) throw new KeelError('invalid-config', `Unknown redaction type "${String(unknown)}"; known types: ${redactionTypes.join(', ')}.`);
  // A secret is never let through: choosing types narrows the personal data redacted, not the secrets.
  return redactionTypes.filter((type) => given.includes(type) || secretTypes.includes(type as never));
}

export function createRedactor(options: RedactionOptions = {}): Redactor {
  const types = chosenTypes(options);
  const detectors = redactionDetectors.filter((detector) => types.includes(detector.type));
  const byRevealed = new Map<string, readonly RedactionDetector[]>();

  function detectorsFor(revealed: ReadonlySet<PersonalDataType>): readonly RedactionDetector[] {
    if (revealed.size === 0) return detectors;
    const key = [...revealed].sort().join(',');
    let chosen = byRevealed.get(key);
    if (chosen === undefined) {
      chosen = detectors.filter((detector) => !revealed.has(detector.type as PersonalDataType));
      byRevealed.set(key, chosen);
    }
    return chosen;
  }

  const clean = createCleanTexts();

  function redactString(text: string, revealed: ReadonlySet<PersonalDataType>, path: string | undefined): Redaction {
    // Without a reveal every detector runs, so a text found clean once is clean again (object keys, enum values).
    const remembered = revealed.size === 0 && clean.has(text);
    const claims = remembered ? [] : findClaims(text, detectorsFor(revealed));
    if (claims.length === 0) {
      if (revealed.size === 0 && !remembered) clean.add(text);
      return { text, findings: [], locations: [] };
    }
    const pieces: string[] = [];
    const locations: RedactionLocation[] = [];
    let position = 0;
    let length = 0;
    for (const claim of claims) {
      const kept = text.slice(position, claim.start);
      const marker = redactionMarker(claim.type);
      locations.push({ type: claim.type, offset: length + kept.length, ...(path === undefined ? {} : { path }) });
      pieces.push(kept, marker);
      length += kept.length + marker.length;
      position = claim.end;
    }
    pieces.push(text.slice(position));
    return { text: pieces.join(''), findings: countFindings(locations, detectors), locations };
  }

  const recent = createRecentResults();

  function redactText(text: string, call: RedactCallOptions = {}): Redaction {
    const reveal = call.reveal ?? revealNothing;
    if (!reveal.isEmpty) return redactString(text, reveal.revealedAt(''), undefined);
    const known = recent.get(text);
    if (known !== undefined) return known;
    const result = redactString(text, revealNothing.revealedAt(''), undefined);
    recent.remember(text, result);
    return result;
  }

  function redactValue(value: unknown, call: RedactCallOptions = {}): ValueRedaction {
    const reveal = call.reveal ?? revealNothing;
    const found: Finding[] = [];
    const locations: RedactionLocation[] = [];
    const redactAt = (text: string, path: string): string => {
      const redaction = redactString(text, reveal.revealedAt(path), path);
      found.push(...redaction.findings);
      locations.push(...redaction.locations);
      return redaction.text;
    };
    const visit = (item: unknown, path: string): unknown => {
      if (typeof item === 'string') return redactAt(item, path);
      if (Array.isArray(item)) return item.map((entry, index) => visit(entry, `${path}/${index}`));
      if (item !== null && typeof item === 'object') {
        const result: Record<string, unknown> = {};
        for (const [key, entry] of Object.entries(item)) {
          const entryPath = `${path}/${pointerSegment(key)}`;
          const redactedKey = redactAt(key, entryPath);
          // Two keys that redact to the same marker must both survive, or the value of one would vanish.
          let name = redactedKey;
          for (let copy = 2; Object.hasOwn(result, name); copy += 1) name = `${redactedKey} (${copy})`;
          result[name] = isNamedSecretValue(key, entry) ? namedSecret(entryPath) : visit(entry, entryPath);
        }
        return result;
      }
      return item;
    };
    // In JSON the name and its value are separate strings: `{"password": "hunter2"}` is caught here, not by the text scan.
    const namedSecret = (entryPath: string): string => {
      found.push({ type: 'named-secret', count: 1 });
      locations.push({ type: 'named-secret', offset: 0, path: entryPath });
      return redactionMarker('named-secret');
    };
    const redacted = visit(value, '');
    return { value: redacted, findings: mergeFindings(found), locations };
  }

  return { types, redactText, redactValue };
}

const rememberedMinimumLength = 512;
const rememberedEntries = 64;
const rememberedCharacters = 2_000_000;

/**
 * The last texts redacted without a reveal policy, by content: one tool output is exported in the tool's span,
 * again among the next model call's input messages, and in the call log, and is scanned once for all of them.
 */
function createRecentResults(): { get(text: string): Redaction | undefined; remember(text: string, result: Redaction): void } {
  const entries = new Map<string, Redaction>();
  let characters = 0;
  return {
    get(text) {
      if (text.length < rememberedMinimumLength) return undefined;
      const result = entries.get(text);
      if (result !== undefined) {
        // Most recently used last, so that eviction takes the oldest.
        entries.delete(text);
        entries.set(text, result);
      }
      return result;
    },
    remember(text, result) {
      if (text.length < rememberedMinimumLength || text.length > rememberedCharacters / 4) return;
      entries.set(text, result);
      characters += text.length;
      for (const [oldest] of entries) {
        if (entries.size <= rememberedEntries && characters <= rememberedCharacters) break;
        entries.delete(oldest);
        characters -= oldest.length;
      }
    },
  };
}

const cleanTextMaximumLength = 128;
const cleanTextEntries = 1_024;

/** Short texts the redactor found nothing in, the most recent `cleanTextEntries` of them. */
function createCleanTexts(): { has(text: string): boolean; add(text: string): void } {
  const texts = new Set<string>();
  return {
    has: (text) => text.length <= cleanTextMaximumLength && texts.has(text),
    add(text) {
      if (text.length > cleanTextMaximumLength) return;
      texts.add(text);
      if (texts.size > cleanTextEntries) {
        for (const oldest of texts) {
          texts.delete(oldest);
          break;
        }
      }
    },
  };
}

function isNamedSecretValue(key: string, value: unknown): boolean {
  if (!isSecretName(key)) return false;
  if (typeof value === 'number') return Number.isFinite(value);
  return typeof value === 'string' && !isPlaceholderValue(value);
}

function countFindings(locations: readonly RedactionLocation[], detectors: readonly RedactionDetector[]): readonly Finding[] {
  const counts = new Map<RedactionType, number>();
  for (const location of locations) counts.set(location.type, (counts.get(location.type) ?? 0) + 1);
  return detectors.flatMap((detector) => {
    const count = counts.get(detector.type);
    return count === undefined ? [] : [{ type: detector.type, count }];
  });
}

let defaultRedactor: Redactor | undefined;

/** Redacts every kind; build a `createRedactor` once to choose types or reveal personal data. */
export function redactText(text: string, options?: RedactionOptions): Redaction {
  if (options !== undefined) return createRedactor(options).redactText(text);
  defaultRedactor ??= createRedactor();
  return defaultRedactor.redactText(text);
}
