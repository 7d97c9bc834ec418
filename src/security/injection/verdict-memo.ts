import { RecentKeys } from '../recent-keys.ts';
import { RepeatedTextDigests } from '../text-digest.ts';
import type { InjectionScan } from './types.ts';

/** Texts longer than this are scanned every time: hashing them costs more, and they rarely repeat. */
const memoMaximumLength = 16_384;
const memoEntries = 512;
/** Verdicts with more findings are not kept: a text crafted to fire every rule would cost memory per entry. */
const memoMaximumFindings = 16;

/**
 * The verdicts of recently scanned texts that repeat, by the SHA-256 of the text and the layers that ran: a tool
 * whose output is the same every time (a lookup, a status, a file read twice) is scanned twice and then answered
 * from here. Keyed by digest rather than by the text, so the memo never keeps a large string alive (a short slice
 * would retain its parent). Only for layers that are pure functions of the text (rules, classifier); the caller
 * never asks for others.
 */
export class VerdictMemo {
  private readonly digests = new RepeatedTextDigests();
  private readonly entries = new Map<string, InjectionScan>();
  private readonly order = new RecentKeys<string>(memoEntries);

  /** The key of `text` under `layers`, or null when the text is not looked up (too long, or not met before). */
  keyOf(text: string, layers: string): string | null {
    if (text.length > memoMaximumLength) return null;
    const digest = this.digests.digestIfRepeated(text);
    return digest === null ? null : `${layers}:${digest}`;
  }

  /** A copy of the remembered verdict: callers own what `scan` returns and may change it. */
  get(key: string): InjectionScan | undefined {
    const known = this.entries.get(key);
    return known === undefined ? undefined : copyOf(known);
  }

  remember(key: string, scan: InjectionScan): void {
    if (this.entries.has(key) || scan.findings.length > memoMaximumFindings) return;
    const evicted = this.order.add(key);
    if (evicted !== undefined) this.entries.delete(evicted);
    this.entries.set(key, copyOf(scan));
  }
}

function copyOf(scan: InjectionScan): InjectionScan {
  return { injection: scan.injection, score: scan.score, findings: scan.findings.map((finding) => ({ ...finding })), truncated: scan.truncated };
}
