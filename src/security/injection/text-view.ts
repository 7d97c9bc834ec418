/**
 * A transformed text that remembers where each of its UTF-16 units came from in the original: unit `i` of `text`
 * stems from `original.slice(starts[i], ends[i])`. Every normalization pass maps a view to a view, so a match found
 * after decoding base64 and folding look-alike letters still reports a span of the text the caller passed in.
 */
export interface TextView {
  readonly text: string;
  /** Null for the original text itself (unit i comes from i), which costs no arrays. */
  readonly starts: Int32Array | null;
  readonly ends: Int32Array | null;
}

/** The identity view of `text`. */
export function identityView(text: string): TextView {
  return { text, starts: null, ends: null };
}

function startOf(view: TextView, index: number): number {
  return view.starts === null ? index : view.starts[index]!;
}

function endOf(view: TextView, index: number): number {
  return view.ends === null ? index + 1 : view.ends[index]!;
}

/** The original span behind `[start, end)` of a view; an empty range maps to an empty span at its position. */
export function originalSpan(view: TextView, start: number, end: number): { start: number; end: number } {
  if (view.text.length === 0) return { start: 0, end: 0 };
  const first = Math.min(Math.max(start, 0), view.text.length - 1);
  const last = Math.min(Math.max(end - 1, first), view.text.length - 1);
  return { start: startOf(view, first), end: Math.max(endOf(view, last), startOf(view, first)) };
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
    const capacity = Math.max(16, source.text.length + (source.text.length >> 3));
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
    if (to <= from) return;
    this.ensure(to - from);
    const { text, starts, ends } = this.source;
    const offset = this.length - from;
    for (let index = from; index < to; index += 1) this.units[index + offset] = text.charCodeAt(index);
    if (starts === null || ends === null) {
      for (let index = from; index < to; index += 1) {
        this.starts[index + offset] = index;
        this.ends[index + offset] = index + 1;
      }
    } else if (to - from < 32) {
      for (let index = from; index < to; index += 1) {
        this.starts[index + offset] = starts[index]!;
        this.ends[index + offset] = ends[index]!;
      }
    } else {
      this.starts.set(starts.subarray(from, to), this.length);
      this.ends.set(ends.subarray(from, to), this.length);
    }
    this.length += to - from;
  }

  /** Writes `value` as standing for source units `[from, to)`. */
  push(value: string, from: number, to: number): void {
    if (value.length === 0 || to <= from) return;
    this.ensure(value.length);
    const start = startOf(this.source, from);
    const end = endOf(this.source, to - 1);
    for (let index = 0; index < value.length; index += 1) {
      this.units[this.length] = value.charCodeAt(index);
      this.starts[this.length] = start;
      this.ends[this.length] = end;
      this.length += 1;
    }
  }

  /** Writes one UTF-16 unit standing for source units `[from, to)`. */
  pushUnit(unit: number, from: number, to: number): void {
    if (this.length === this.units.length) this.ensure(1);
    this.units[this.length] = unit;
    this.starts[this.length] = startOf(this.source, from);
    this.ends[this.length] = endOf(this.source, to - 1);
    this.length += 1;
  }

  build(): TextView {
    return { text: unitsToString(this.units, this.length), starts: this.starts.subarray(0, this.length), ends: this.ends.subarray(0, this.length) };
  }

  private ensure(extra: number): void {
    if (this.length + extra <= this.units.length) return;
    const capacity = Math.max(this.units.length * 2, this.length + extra);
    const units = new Uint16Array(capacity);
    units.set(this.units.subarray(0, this.length));
    const starts = new Int32Array(capacity);
    starts.set(this.starts.subarray(0, this.length));
    const ends = new Int32Array(capacity);
    ends.set(this.ends.subarray(0, this.length));
    this.units = units;
    this.starts = starts;
    this.ends = ends;
  }
}

/** The units as a string, in one native pass (a lone surrogate stays itself). */
function unitsToString(units: Uint16Array, length: number): string {
  return Buffer.from(units.buffer, units.byteOffset, length * 2).toString('utf16le');
}
