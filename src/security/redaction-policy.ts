import { KeelError } from '../errors/index.ts';
import { isPersonalDataType, personalDataTypes } from './redaction-detectors.ts';
import type { PersonalDataType } from './redaction-detectors.ts';

/**
 * Which personal data a tool's output may show the model. Redaction serves two audiences: what leaves the
 * process (spans, logs, the call log, audit records) never holds secrets or personal data; what the model
 * sees never holds secrets, but holds the personal data the task needs when the tool says so — the address
 * to reply to, the IBAN of the bill to pay. Nothing is revealed by default, and secrets cannot be.
 */

/** A kind of personal data, revealed in all of a tool's output, or only at some fields of its JSON output. */
export type RevealRule = PersonalDataType | { readonly type: PersonalDataType; readonly paths: readonly string[] };

export interface ToolRedactionPolicy {
  /**
   * Personal data the model sees in this tool's output, for example `['email']`, or
   * `[{ type: 'iban', paths: ['/invoice/iban'] }]`. Paths are JSON pointers into the output parsed as JSON;
   * a `*` segment matches any one key or array index.
   */
  readonly reveal?: readonly RevealRule[];
}

/** An agent's additions to its tools' policies: reveal rules by tool name, `'*'` for every tool. */
export interface AgentRedactionPolicy {
  readonly reveal: Readonly<Record<string, readonly RevealRule[]>>;
}

/** A compiled policy: which kinds are revealed at a path (`''` for the whole output, or text that is not JSON). */
export interface RevealPolicy {
  readonly isEmpty: boolean;
  revealedAt(path: string): ReadonlySet<PersonalDataType>;
}

const nothing: ReadonlySet<PersonalDataType> = new Set();

export const revealNothing: RevealPolicy = { isEmpty: true, revealedAt: () => nothing };

interface PathRule {
  readonly type: PersonalDataType;
  readonly segments: readonly string[];
}

function checkType(type: unknown, owner: string): PersonalDataType {
  if (typeof type === 'string' && isPersonalDataType(type)) return type;
  throw new KeelError(
    'invalid-config',
    `${owner}: "${String(type)}" cannot be revealed to the model; only personal data can (${personalDataTypes.join(', ')}). Secrets are always redacted.`,
  );
}

function pathSegments(path: string, owner: string): readonly string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new KeelError('invalid-config', `${owner}: reveal path "${path}" must be a JSON pointer starting with "/", for example "/customer/email".`);
  // Compared in their escaped form (`~1` for `/`), as the paths of the output are built.
  return path.slice(1).split('/');
}

/** Escapes one key for a JSON pointer. */
export function pointerSegment(key: string | number): string {
  return String(key).replaceAll('~', '~0').replaceAll('/', '~1');
}

function matches(rule: PathRule, path: readonly string[]): boolean {
  return rule.segments.length === path.length && rule.segments.every((segment, index) => segment === '*' || segment === path[index]);
}

/** Checks a tool's policy (it throws `invalid-config` naming `owner`) and prepares it for lookups by path. */
export function compileRevealPolicy(policy: ToolRedactionPolicy | undefined, owner: string): RevealPolicy {
  const rules = policy?.reveal ?? [];
  if (rules.length === 0) return revealNothing;
  const everywhere = new Set<PersonalDataType>();
  const byPath: PathRule[] = [];
  for (const rule of rules) {
    if (typeof rule === 'string') everywhere.add(checkType(rule, owner));
    else {
      const type = checkType(rule.type, owner);
      if (rule.paths.length === 0) throw new KeelError('invalid-config', `${owner}: reveal rule for "${type}" lists no paths; give the kind alone to reveal it everywhere.`);
      for (const path of rule.paths) byPath.push({ type, segments: pathSegments(path, owner) });
    }
  }
  const cache = new Map<string, ReadonlySet<PersonalDataType>>();
  return {
    isEmpty: false,
    revealedAt(path) {
      const cached = cache.get(path);
      if (cached !== undefined) return cached;
      const segments = path === '' ? [] : path.slice(1).split('/');
      const revealed = new Set(everywhere);
      for (const rule of byPath) if (matches(rule, segments)) revealed.add(rule.type);
      if (cache.size < 1024) cache.set(path, revealed);
      return revealed;
    },
  };
}
