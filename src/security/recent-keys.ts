/**
 * The last `capacity` keys added, first in first out. Eviction follows a ring of the keys rather than a Set's own
 * order: taking a Set's oldest entry walks past the holes earlier deletions left, which grows with every eviction
 * until the table is rebuilt.
 */
export class RecentKeys<Key> {
  private readonly keys = new Set<Key>();
  private readonly ring: (Key | undefined)[];
  private next = 0;

  constructor(capacity: number) {
    this.ring = new Array<Key | undefined>(capacity).fill(undefined);
  }

  has(key: Key): boolean {
    return this.keys.has(key);
  }

  /** Adds a key not present; the oldest one goes when the capacity is reached. Returns the key that went, if any. */
  add(key: Key): Key | undefined {
    if (this.keys.has(key)) return undefined;
    const evicted = this.ring[this.next];
    if (evicted !== undefined) this.keys.delete(evicted);
    this.ring[this.next] = key;
    this.next = (this.next + 1) % this.ring.length;
    this.keys.add(key);
    return evicted;
  }
}
