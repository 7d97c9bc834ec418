import { textDigest } from '../text-digest.ts';
import type { InjectionScan } from './types.ts';

/** Texts longer than this are scanned every time: hashing them costs more, and they rarely repeat. */
const memoMaximumLength = 16_384;
const memoEntries = 512;

/**
 * The verdicts of recently scanned texts, by the SHA-256 of the text and the layers that ran: a tool whose output
 * is the same every time (a lookup, a status, a file read twice) is scanned once. Keyed by digest rather than by the
 * text, so the memo never keeps a large string alive (a short slice would retain its parent). Only for layers
 * that are pure functions of the text (rules, classifier); the caller never asks for others.
 */
export class VerdictMemo {
  private readonly entries = new Map<string, InjectionScan>();

  /** The key of `text` under `layers`, or null when the text is not remembered at all. */
  keyOf(text: string, layers: string): string | null {
    if (text.length > memoMaximumLength) return null;
    return `${layers}:${textDigest(text)}`;
  }

  /** A copy of the remembered verdict: callers own what `scan` returns and may change it. */
  get(key: string): InjectionScan | undefined {
    const known = this.entries.get(key);
    if (known === undefined) return undefined;
    // Most recently used last, so that eviction takes the oldest.
    this.entries.delete(key);
    this.entries.set(key, known);
    return copyOf(known);
  }

  remember(key: string, scan: InjectionScan): void {
    this.entries.set(key, copyOf(scan));
    if (this.entries.size > memoEntries) {
      for (const oldest of this.entries.keys()) {
        this.entries.delete(oldest);
        break;
      }
    }
  }
}

function copyOf(scan: InjectionScan): InjectionScan {
  return { injection: scan.injection, score: scan.score, findings: scan.findings.map((finding) => ({ ...finding })), truncated: scan.truncated };
}
