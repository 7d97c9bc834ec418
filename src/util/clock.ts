/** Structurally a `Clock` (spec/clock.ts); util imports nothing from the domain. */
export const systemClock = {
  now: (): number => Date.now(),
  monotonic: (): number => performance.now(),
  sleep: (milliseconds: number, signal?: AbortSignal): Promise<void> => sleep(milliseconds, signal),
};


export function sleep(milliseconds: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, milliseconds);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
