import type { Provenance } from '../../spec/provenance.ts';
import { isTrustedProvenance } from '../../spec/provenance.ts';
import { forEachAtom, normalizeForTracing } from './value-atoms.ts';
import type { AtomKind } from './value-atoms.ts';

/** One piece of context, as it entered the session. */
export interface ProvenanceItem {
  /** Stable across resumes: `system`, `user:<n>`, `call:<callId>`. */
  readonly id: string;
  readonly provenance: Provenance;
  readonly text: string;
  /** For people reading an approval request: `the result of read_inbox (call toolu_01)`. */
  readonly description: string;
  /** Output a tool declared secret: outbound tools may not carry it. */
  readonly secret?: boolean;
}

/** A context item named in a decision. */
export interface ItemReference {
  readonly id: string;
  readonly provenance: Provenance;
  readonly description: string;
}

/** Where a value came from: an atom of it that appears in an untrusted item and in no trusted one. */
export interface ValueTrace {
  readonly kind: AtomKind;
  /** The matched atom, normalized (`DE89370400440532013000`, five words of prose). */
  readonly atom: string;
  readonly source: ItemReference;
}

/** A value that would carry text of the system prompt or of a secret item out of the process. */
export interface LeakTrace extends ValueTrace {
  readonly leak: 'system-prompt' | 'secret';
}

export interface ProvenanceIndexOptions {
  /** Characters of one item that are indexed; the rest is not traced. Defaults to 262,144. */
  readonly maxItemChars?: number;
  /** Atoms held in all; past it the index is saturated and cannot vouch for any value. Defaults to 500,000. */
  readonly maxAtoms?: number;
}

/**
 * Every atom of the context by where it came from, so that the executor can tell, for an argument of a proposed call,
 * whether its value can be traced to untrusted content: an atom of the value that appears in an untrusted item and in
 * no trusted one (the system prompt, the user's words). Adding an item and tracing a value are linear in their length;
 * the same items added in the same order give the same answers, so a resumed session rebuilds it from the journal.
 */
export class ProvenanceIndex {
  private readonly items: ItemReference[] = [];
  private readonly untrusted = new Map<string, number>();
  private readonly user = new Set<string>();
  private readonly system = new Map<string, number>();
  private readonly secret = new Map<string, number>();
  private readonly maxItemChars: number;
  private readonly maxAtoms: number;
  private atoms = 0;
  private full = false;

  constructor(options: ProvenanceIndexOptions = {}) {
    this.maxItemChars = options.maxItemChars ?? 262_144;
    this.maxAtoms = options.maxAtoms ?? 500_000;
  }

  /** True once an item could not be indexed whole: tracing can then miss a flow, and callers should fail closed. */
  get saturated(): boolean {
    return this.full;
  }

  get size(): number {
    return this.items.length;
  }

  add(item: ProvenanceItem): void {
    const position = this.items.push({ id: item.id, provenance: item.provenance, description: item.description }) - 1;
    if (item.text.length > this.maxItemChars && !isTrustedProvenance(item.provenance)) this.full = true;
    const text = normalizeForTracing(item.text.length > this.maxItemChars ? item.text.slice(0, this.maxItemChars) : item.text);
    forEachAtom(text, (atom) => {
      if (this.atoms >= this.maxAtoms) {
        this.full = true;
        return;
      }
      this.atoms += 1;
      if (item.provenance === 'user') this.user.add(atom.key);
      else if (item.provenance === 'system') setFirst(this.system, atom.key, position);
      else setFirst(this.untrusted, atom.key, position);
      if (item.secret === true) setFirst(this.secret, atom.key, position);
    });
  }

  /** The first atom of `value` that comes only from untrusted content, or null when none does. */
  trace(value: string): ValueTrace | null {
    let found: ValueTrace | null = null;
    forEachAtom(normalizeForTracing(value), (atom) => {
      if (found !== null || this.user.has(atom.key) || this.system.has(atom.key)) return;
      const position = this.untrusted.get(atom.key);
      if (position !== undefined) found = { kind: atom.kind, atom: display(atom.key), source: this.items[position] as ItemReference };
    });
    return found;
  }

  /** The first atom of `value` taken from the system prompt or a secret item (and not written by the user), or null. */
  leak(value: string): LeakTrace | null {
    let found: LeakTrace | null = null;
    forEachAtom(normalizeForTracing(value), (atom) => {
      if (found !== null || this.user.has(atom.key)) return;
      const secret = this.secret.get(atom.key);
      const system = this.system.get(atom.key);
      if (secret !== undefined) found = { kind: atom.kind, atom: display(atom.key), source: this.items[secret] as ItemReference, leak: 'secret' };
      else if (system !== undefined) found = { kind: atom.kind, atom: display(atom.key), source: this.items[system] as ItemReference, leak: 'system-prompt' };
    });
    return found;
  }
}

function setFirst(map: Map<string, number>, key: string, position: number): void {
  if (!map.has(key)) map.set(key, position);
}

function display(key: string): string {
  const value = key.slice(key.indexOf(':') + 1);
  return key.startsWith('iban:') ? value.toUpperCase() : value;
}
