import { base64Candidates, jsonUnescapeView, urlDecodeView } from './redaction-decode.ts';
import type { RedactionDetector, RedactionType } from './redaction-detectors.ts';
import { countWork } from './redaction-scan.ts';
import { normalizeView, originalView, toOriginal } from './redaction-text-view.ts';
import type { TextView } from './redaction-text-view.ts';

/**
 * Finds what to redact in one text: every detector runs over the normalized text and over each decoding of
 * it (JSON escapes, percent-encoding, two levels deep), and over the text inside base64 runs, two levels
 * deep; every finding is mapped back to the original text. Overlapping findings are joined, so no part of
 * any of them is left showing, and named after the earliest (most specific) detector among them.
 */

export interface Claim {
  readonly start: number;
  readonly end: number;
  readonly type: RedactionType;
}

interface RankedClaim {
  readonly start: number;
  readonly end: number;
  /** Index of the detector in the redactor's list: lower is more specific. */
  readonly rank: number;
}

const maximumDecodingDepth = 2;
const maximumBase64Depth = 2;

/**
 * The normalized text and its decodings: each decoding applied up to `maximumDecodingDepth` times in a row
 * (JSON in a JSON string is escaped twice, a URL in a query parameter encoded twice).
 */
function viewsOf(text: string): TextView[] {
  const normalized = normalizeView(originalView(text));
  const views = [normalized];
  for (const decode of [jsonUnescapeView, urlDecodeView]) {
    let view: TextView | null = normalized;
    for (let depth = 0; depth < maximumDecodingDepth && view !== null; depth += 1) {
      view = decode(view);
      if (view !== null) views.push(view);
    }
  }
  return views;
}

function rankedClaims(text: string, detectors: readonly RedactionDetector[], depth: number): RankedClaim[] {
  const claims: RankedClaim[] = [];
  const views = viewsOf(text);
  for (const view of views) {
    detectors.forEach((detector, rank) => {
      if (!detector.mayContain(view.text)) return;
      for (const span of detector.find(view.text)) {
        if (span.end > span.start) claims.push({ ...toOriginal(view, span), rank });
      }
    });
  }
  if (depth < maximumBase64Depth) {
    // The original's own view and its first decoding: base64 inside a JSON string has its `/` escaped as `\/`.
    for (const view of views.slice(0, 2)) {
      for (const candidate of base64Candidates(view)) {
        const inner = rankedClaims(candidate.decoded, detectors, depth + 1);
        if (inner.length === 0) continue;
        const rank = inner.reduce((lowest, claim) => Math.min(lowest, claim.rank), Number.POSITIVE_INFINITY);
        claims.push({ ...toOriginal(view, candidate), rank });
      }
    }
  }
  return claims;
}

/** Sorted, disjoint claims: overlapping ones joined under the most specific detector's type. */
export function findClaims(text: string, detectors: readonly RedactionDetector[]): readonly Claim[] {
  const ranked = rankedClaims(text, detectors, 0);
  if (ranked.length === 0) return [];
  ranked.sort((first, second) => first.start - second.start || second.end - first.end);
  countWork(ranked.length);
  const merged: Claim[] = [];
  const first = ranked[0]!;
  let current: { start: number; end: number; rank: number } = { start: first.start, end: first.end, rank: first.rank };
  for (const claim of ranked.slice(1)) {
    if (claim.start < current.end) {
      current.end = Math.max(current.end, claim.end);
      current.rank = Math.min(current.rank, claim.rank);
    } else {
      merged.push({ start: current.start, end: current.end, type: detectors[current.rank]!.type });
      current = { start: claim.start, end: claim.end, rank: claim.rank };
    }
  }
  merged.push({ start: current.start, end: current.end, type: detectors[current.rank]!.type });
  return merged;
}
