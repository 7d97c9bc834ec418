/**
 * Per-resource locks of one Keel instance: steps that read-modify-write the same record take its lock, so their
 * updates are applied one after the other instead of one overwriting the other. Waiters are served in arrival order.
 * The locks hold within one process; across processes, the resource's own concurrency control (a version column,
 * a conditional update) is what keeps updates from being lost.
 */
export class ResourceLocks {
  private readonly tails = new Map<string, Promise<void>>();

  async withLock<T>(resource: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(resource) ?? Promise.resolve();
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => held);
    this.tails.set(resource, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      // The last holder leaves no entry behind: the map holds only resources someone is using or waiting for.
      if (this.tails.get(resource) === tail) this.tails.delete(resource);
    }
  }

  /** Holds every lock of `resources` (taken in sorted order, so two holders of overlapping sets cannot deadlock). */
  async withLocks<T>(resources: readonly string[], work: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(resources)].sort();
    const take = (index: number): Promise<T> => {
      const resource = sorted[index];
      return resource === undefined ? work() : this.withLock(resource, () => take(index + 1));
    };
    return take(0);
  }
}
