import { countWork } from './redaction-scan.ts';
import type { SensitiveSpan } from './redaction-scan.ts';

/**
 * A view of the text as the detectors see it — normalized, or decoded — with, for every code unit of the
 * view, the range of the original text it came from. Detectors match in the view; their findings are mapped
 * back and redacted in the original, so a secret hidden by an encoding is redacted where it is written.
 */
export interface TextView {
  readonly text: string;
  /** Original start of each code unit of `text`; null when the view is the original text itself. */
  readonly starts: Int32Array | null;
  /** Original end of each code unit of `text`. */
  readonly ends: Int32Array | null;
}

export function originalView(text: string): TextView {
  return { text, starts: null, ends: null };
}

/** The original range a span of the view covers. */
export function toOriginal(view: TextView, span: SensitiveSpan): SensitiveSpan {
  if (view.starts === null || view.ends === null) return span;
  return { start: view.starts[span.start]!, end: view.ends[span.end - 1]! };
}

/** Builds a view from pieces of another, composing the other's mapping so that positions stay original. */
export class ViewBuilder {
  private readonly pieces: string[] = [];
  private starts: Int32Array;
  private ends: Int32Array;
  private length = 0;

  private readonly source: TextView;
  constructor(source: TextView) {
    this.source = source;
    this.starts = new Int32Array(Math.max(16, source.text.length));
    this.ends = new Int32Array(Math.max(16, source.text.length));
  }

  /** Appends `piece`, every code unit of it standing for `[sourceStart, sourceEnd)` of the source view. */
  push(piece: string, sourceStart: number, sourceEnd: number): void {
    if (piece.length === 0) return;
    this.reserve(piece.length);
    const start = this.source.starts === null ? sourceStart : this.source.starts[sourceStart]!;
    const end = this.source.ends === null ? sourceEnd : this.source.ends[sourceEnd - 1]!;
    for (let index = 0; index < piece.length; index += 1) {
      this.starts[this.length + index] = start;
      this.ends[this.length + index] = end;
    }
    this.pieces.push(piece);
    this.length += piece.length;
  }

  /** Appends the source's own text `[from, to)`, unit for unit. */
  copy(from: number, to: number): void {
    if (to <= from) return;
    this.reserve(to - from);
    for (let index = from; index < to; index += 1) {
      this.starts[this.length] = this.source.starts === null ? index : this.source.starts[index]!;
      this.ends[this.length] = this.source.ends === null ? index + 1 : this.source.ends[index]!;
      this.length += 1;
    }
    this.pieces.push(this.source.text.slice(from, to));
  }

  build(): TextView {
    countWork(this.length);
    return { text: this.pieces.join(''), starts: this.starts.subarray(0, this.length), ends: this.ends.subarray(0, this.length) };
  }

  private reserve(extra: number): void {
    if (this.length + extra <= this.starts.length) return;
    const capacity = Math.max(this.starts.length * 2, this.length + extra);
    const starts = new Int32Array(capacity);
    const ends = new Int32Array(capacity);
    starts.set(this.starts.subarray(0, this.length));
    ends.set(this.ends.subarray(0, this.length));
    this.starts = starts;
    this.ends = ends;
  }
}

// Format characters (zero-width space and joiners, bidirectional marks, the byte-order mark, soft hyphen, tags),
// variation selectors and the Hangul fillers: invisible, so they can split a secret without changing how it reads.
const formatCharacter = /^\p{Cf}$/u;
const invisibleRanges: readonly (readonly [number, number])[] = [
  [0x034f, 0x034f],
  [0x115f, 0x1160],
  [0x17b4, 0x17b5],
  [0x180b, 0x180f],
  [0x3164, 0x3164],
  [0xfe00, 0xfe0f],
  [0xffa0, 0xffa0],
  [0xe0100, 0xe01ef],
];
const nonAscii = /[\u0080-\uffff]/;

function isInvisibleCodePoint(codePoint: number, character: string): boolean {
  return formatCharacter.test(character) || invisibleRanges.some(([low, high]) => codePoint >= low && codePoint <= high);
}
const normalizedCache = new Map<number, string>();
const cacheLimit = 4096;

/** The NFKC form of one code point, with invisible characters removed. */
function normalizedCodePoint(codePoint: number): string {
  const cached = normalizedCache.get(codePoint);
  if (cached !== undefined) return cached;
  const character = String.fromCodePoint(codePoint);
  const normalized = isInvisibleCodePoint(codePoint, character) ? '' : character.normalize('NFKC');
  if (normalizedCache.size < cacheLimit) normalizedCache.set(codePoint, normalized);
  return normalized;
}

/**
 * NFKC, code point by code point, without invisible characters: full-width digits and letters become ASCII,
 * no-break and other spaces become spaces, and a zero-width space no longer splits a key. ASCII text is its
 * own normal form and is returned as it is.
 */
export function normalizeView(view: TextView): TextView {
  const { text } = view;
  countWork(1);
  if (!nonAscii.test(text)) return view;
  const builder = new ViewBuilder(view);
  let asciiFrom = 0;
  let index = 0;
  while (index < text.length) {
    const code = text.charCodeAt(index);
    if (code < 0x80) {
      index += 1;
      continue;
    }
    builder.copy(asciiFrom, index);
    const codePoint = text.codePointAt(index)!;
    const size = codePoint > 0xffff ? 2 : 1;
    builder.push(normalizedCodePoint(codePoint), index, index + size);
    index += size;
    asciiFrom = index;
  }
  builder.copy(asciiFrom, text.length);
  countWork(text.length);
  return builder.build();
}

export function isInvisible(character: string): boolean {
  return isInvisibleCodePoint(character.codePointAt(0) ?? 0, character);
}
