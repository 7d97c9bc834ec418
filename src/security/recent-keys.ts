/**
 * The last `capacity` keys added, first in first out. Eviction follows a ring of the keys rather than a Set's own
 * order: taking a Set's oldest entry walks past the holes earlier deletions left, which grows with every eviction
 * until the table is rebuilt. The ring grows as keys arrive, so an instance that remembers little costs little.
 */
export class RecentKeys<Key> {
  private readonly keys = new Set<Key>();
  private readonly ring: Key[] = [];
  private next = 0;
  private readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  has(key: Key): boolean {
    return this.keys.has(key);
  }

  /** Adds a key not present; the oldest one goes when the capacity is reached. Returns the key that went, if any. */
  add(key: Key): Key | undefined {
    if (this.keys.has(key)) return undefined;
    this.keys.add(key);
    if (this.ring.length < this.capacity) {
      this.ring.push(key);
      return undefined;
    }
    const evicted = this.ring[this.next]!;
    this.keys.delete(evicted);
    this.ring[this.next] = key;
    this.next = (this.next + 1) % this.capacity;
    return evicted;
  }
}
