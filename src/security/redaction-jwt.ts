import { countWork, isBase64UrlCharacter, runEnd } from './redaction-scan.ts';
import type { SensitiveSpan } from './redaction-scan.ts';

/**
 * JSON Web Tokens: `header.payload.signature`, where header and payload are base64url JSON objects and so
 * start with `eyJ` (`{"`). The scan anchors on `.eyJ`, the start of the payload, and walks back to the
 * header's `eyJ`, across one stray space (`eyJhbGciOi JIUzI1NiJ9.eyJ…`, a token split to slip past a
 * pattern). A walk back stops at the previous dot, so no character is walked twice: the scan is linear.
 */

const minimumPartLength = 10;

function isBase64UrlAt(text: string, index: number): boolean {
  return index >= 0 && isBase64UrlCharacter(text.charCodeAt(index));
}

/** Where the header of a token whose payload starts after `dot` begins, or -1. */
function headerStart(text: string, dot: number, floor: number): number {
  let start = dot;
  while (start > floor && isBase64UrlAt(text, start - 1)) start -= 1;
  countWork(dot - start + 1);
  // The payload after `dot` starts with `eyJ`, so this search never runs past it.
  const inAdjacent = text.indexOf('eyJ', start);
  if (inAdjacent < dot) return dot - inAdjacent >= minimumPartLength ? inAdjacent : -1;
  // One space inside the header: the part before it must hold the `eyJ`.
  if (start - 1 <= floor || text.charCodeAt(start - 1) !== 32 || !isBase64UrlAt(text, start - 2)) return -1;
  let before = start - 1;
  while (before > floor && isBase64UrlAt(text, before - 1)) before -= 1;
  countWork(start - before);
  const inBefore = text.indexOf('eyJ', before);
  return inBefore < start - 1 ? inBefore : -1;
}

export function findJsonWebTokens(text: string): SensitiveSpan[] {
  const spans: SensitiveSpan[] = [];
  let floor = 0;
  let from = 0;
  let dot: number;
  while ((dot = text.indexOf('.eyJ', from)) !== -1) {
    countWork(1);
    const payloadEnd = runEnd(text, dot + 1, isBase64UrlCharacter);
    from = Math.max(payloadEnd, dot + 1);
    if (payloadEnd - dot - 1 < minimumPartLength) continue;
    const start = headerStart(text, dot, floor);
    if (start === -1) continue;
    const end = text.charCodeAt(payloadEnd) === 46 ? runEnd(text, payloadEnd + 1, isBase64UrlCharacter) : payloadEnd;
    spans.push({ start, end });
    floor = end;
    from = Math.max(from, end);
  }
  return spans;
}
