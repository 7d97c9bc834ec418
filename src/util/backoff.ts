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
  const date = parseHttpDate(retryAfter);
  if (date === undefined) return undefined;
  const wait = date - now;
  return wait >= 0 && wait <= 60_000 ? wait : 0;
}

// The three forms RFC 9110 allows an HTTP-date to take. Date.parse alone also reads "-5" (year -5) or "3, 4" (a list of
// two values, as a proxy joins repeated headers) as dates in the past, which would turn a wait into none.
const imfFixdate = /^[A-Za-z]{3}, \d{1,2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const rfc850Date = /^[A-Za-z]{6,9}, \d{1,2}-[A-Za-z]{3}-\d{2} \d{2}:\d{2}:\d{2} GMT$/;
const asctimeDate = /^[A-Za-z]{3} [A-Za-z]{3} [ \d]?\d \d{2}:\d{2}:\d{2} \d{4}$/;

/** An HTTP-date (epoch milliseconds), or undefined for text in none of its three forms. */
export function parseHttpDate(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed.length > 40 || !(imfFixdate.test(trimmed) || rfc850Date.test(trimmed) || asctimeDate.test(trimmed))) return undefined;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : date;
}
