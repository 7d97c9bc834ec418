/** Keeps the `k` best (highest score) entries seen, for brute-force scans; ties keep the earlier entry. */
export class TopK {
  readonly #k: number;
  readonly #scores: number[] = [];
  readonly #slots: number[] = [];

  constructor(k: number) {
    this.#k = k;
  }

  /** The score an entry must beat to enter, `-Infinity` while not full. */
  get threshold(): number {
    return this.#scores.length < this.#k ? -Infinity : (this.#scores.at(-1) as number);
  }

  offer(slot: number, score: number): void {
    if (this.#k === 0 || (this.#scores.length >= this.#k && !(score > (this.#scores.at(-1) as number)))) return;
    let position = this.#scores.length;
    while (position > 0 && (this.#scores[position - 1] as number) < score) position -= 1;
    this.#scores.splice(position, 0, score);
    this.#slots.splice(position, 0, slot);
    if (this.#scores.length > this.#k) {
      this.#scores.pop();
      this.#slots.pop();
    }
  }

  /** Best first. */
  entries(): { slot: number; score: number }[] {
    return this.#slots.map((slot, index) => ({ slot, score: this.#scores[index] as number }));
  }
}
