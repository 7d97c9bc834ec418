export interface BackoffOptions {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  /** Fraction of the delay taken off at random, so that clients that failed together do not retry together. */
  readonly jitter: number;
}

export const defaultBackoff: BackoffOptions = { initialDelayMs: 500, maxDelayMs: 8_000, jitter: 0.25 };

/** Delay before retry number `attempt` (0-based): exponential, capped, with jitter; a server-requested delay wins when given. */
export function backoffDelay(
  attempt: number,
  retryAfterMs: number | undefined,
  options: BackoffOptions = defaultBackoff,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) return retryAfterMs;
  const exponential = Math.min(options.initialDelayMs * 2 ** attempt, options.maxDelayMs);
  return exponential * (1 - random() * options.jitter);
}

/**
 * Reads `retry-after-ms` (milliseconds) or `retry-after` (seconds or an HTTP date), as both official SDKs do.
 * Returns undefined when absent or unparseable; ignores waits over a minute as the SDKs do.
 */
export function parseRetryAfter(headers: { get(name: string): string | null } | undefined, now: number = Date.now()): number | undefined {
  if (headers === undefined) return undefined;
  const milliseconds = headers.get('retry-after-ms');
  if (milliseconds !== null) {
    const value = Number.parseFloat(milliseconds);
    if (Number.isFinite(value) && value >= 0 && value <= 60_000) return value;
  }
  const retryAfter = headers.get('retry-after');
  if (retryAfter === null) return undefined;
  const seconds = Number.parseFloat(retryAfter);
  if (Number.isFinite(seconds)) return seconds >= 0 && seconds <= 60 ? seconds * 1000 : undefined;
  const date = Date.parse(retryAfter);
  if (Number.isNaN(date)) return undefined;
  const wait = date - now;
  return wait >= 0 && wait <= 60_000 ? wait : 0;
}
