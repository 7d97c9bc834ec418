/**
 * Runs `work` for every item, at most `concurrency` at a time, starting them in the items' order; the others wait
 * their turn. Settles when every started item has settled, like `Promise.allSettled`.
 */
export async function runBounded<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<PromiseSettledResult<void>[]> {
  const results: PromiseSettledResult<void>[] = new Array<PromiseSettledResult<void>>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      try {
        await work(items[index] as T);
        results[index] = { status: 'fulfilled', value: undefined };
      } catch (error) {
        results[index] = { status: 'rejected', reason: error };
      }
    }
  };
  const workers = Math.max(1, Math.min(concurrency, items.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return results;
}
