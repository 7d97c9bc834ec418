/**
 * A transformed text that remembers where each of its UTF-16 units came from in the original: unit `i` of `text`
 * stems from `original.slice(starts[i], ends[i])`. Every normalization pass maps a view to a view, so a match found
 * after decoding base64 and folding look-alike letters still reports a span of the text the caller passed in.
 */
export interface TextView {
  readonly text: string;
  readonly starts: Int32Array;
  readonly ends: Int32Array;
}

/** The identity view of `text`. */
export function identityView(text: string): TextView {
  const starts = new Int32Array(text.length);
  const ends = new Int32Array(text.length);
  for (let index = 0; index < text.length; index += 1) {
    starts[index] = index;
    ends[index] = index + 1;
  }
  return { text, starts, ends };
}

/** The original span behind `[start, end)` of a view; an empty range maps to an empty span at its position. */
export function originalSpan(view: TextView, start: number, end: number): { start: number; end: number } {
  if (view.text.length === 0) return { start: 0, end: 0 };
  const first = Math.min(Math.max(start, 0), view.text.length - 1);
  const last = Math.min(Math.max(end - 1, first), view.text.length - 1);
  return { start: view.starts[first]!, end: Math.max(view.ends[last]!, view.starts[first]!) };
}

/**
 * Builds the next view from a source view in one pass: `copy` keeps source units, `push` writes replacement text
 * that stands for a source range. Buffers grow by doubling, so a pass stays linear.
 */
export class ViewBuilder {
  private readonly source: TextView;
  private units: Uint16Array;
  private starts: Int32Array;
  private ends: Int32Array;
  private length = 0;

  constructor(source: TextView) {
    this.source = source;
    const capacity = Math.max(16, source.text.length);
    this.units = new Uint16Array(capacity);
    this.starts = new Int32Array(capacity);
    this.ends = new Int32Array(capacity);
  }

  get size(): number {
    return this.length;
  }

  /** The last unit written, or -1. */
  lastUnit(): number {
    return this.length === 0 ? -1 : this.units[this.length - 1]!;
  }

  /** Copies source units `[from, to)` unchanged. */
  copy(from: number, to: number): void {
    for (let index = from; index < to; index += 1) {
      this.append(this.source.text.charCodeAt(index), this.source.starts[index]!, this.source.ends[index]!);
    }
  }

  /** Writes `value` as standing for source units `[from, to)`. */
  push(value: string, from: number, to: number): void {
    if (value.length === 0 || to <= from) return;
    const start = this.source.starts[from]!;
    const end = this.source.ends[to - 1]!;
    for (let index = 0; index < value.length; index += 1) this.append(value.charCodeAt(index), start, end);
  }

  /** Writes one UTF-16 unit standing for source units `[from, to)`. */
  pushUnit(unit: number, from: number, to: number): void {
    this.append(unit, this.source.starts[from]!, this.source.ends[to - 1]!);
  }

  build(): TextView {
    return { text: unitsToString(this.units, this.length), starts: this.starts.slice(0, this.length), ends: this.ends.slice(0, this.length) };
  }

  private append(unit: number, start: number, end: number): void {
    if (this.length === this.units.length) this.grow();
    this.units[this.length] = unit;
    this.starts[this.length] = start;
    this.ends[this.length] = end;
    this.length += 1;
  }

  private grow(): void {
    const capacity = this.units.length * 2;
    const units = new Uint16Array(capacity);
    units.set(this.units);
    const starts = new Int32Array(capacity);
    starts.set(this.starts);
    const ends = new Int32Array(capacity);
    ends.set(this.ends);
    this.units = units;
    this.starts = starts;
    this.ends = ends;
  }
}

/** `String.fromCharCode` in slices, so a megabyte of units does not overflow the argument limit. */
function unitsToString(units: Uint16Array, length: number): string {
  const slice = 8192;
  const parts: string[] = [];
  for (let offset = 0; offset < length; offset += slice) {
    parts.push(String.fromCharCode(...units.subarray(offset, Math.min(length, offset + slice))));
  }
  return parts.join('');
}
