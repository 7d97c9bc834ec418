/** A signal that aborts when any input aborts or after `timeoutMs`; `dispose` releases the timer and listeners. */
export function linkedSignal(
  signals: readonly (AbortSignal | undefined)[],
  timeoutMs?: number,
  timeoutReason?: () => unknown,
): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const cleanups: (() => void)[] = [];
  for (const signal of signals) {
    if (signal === undefined) continue;
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    const onAbort = (): void => controller.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    cleanups.push(() => signal.removeEventListener('abort', onAbort));
  }
  if (timeoutMs !== undefined && !controller.signal.aborted) {
    const timer = setTimeout(() => controller.abort(timeoutReason?.() ?? new Error(`Timed out after ${timeoutMs} ms`)), timeoutMs);
    timer.unref?.();
    cleanups.push(() => clearTimeout(timer));
  }
  return {
    signal: controller.signal,
    dispose: () => {
      for (const cleanup of cleanups) cleanup();
    },
  };
}
