import { KeelError } from '../../errors/index.ts';
import { backoffDelay } from '../../util/index.ts';
import { parseHttpDate } from '../../util/backoff.ts';
import type { BackoffOptions } from '../../util/index.ts';
import type { HeaderLookup } from './rate-limit-headers.ts';

/** Waits the provider asks for above this are "long": the SDKs ignore them; Keel waits them out or fails at once. */
export const longWaitThresholdMs = 60_000;

/** A provider asking for more than a day is treated as a day: the figure is only used to decide and to report. */
const longestWaitMs = 86_400_000;

/**
 * `retry-after-ms` (milliseconds), else `retry-after` (seconds or an HTTP date), with no upper cut: a wait of ten
 * minutes is reported as ten minutes, not dropped. Undefined when absent or unreadable.
 */
export function readRetryAfter(headers: HeaderLookup | undefined, now: number = Date.now()): number | undefined {
  if (headers === undefined) return undefined;
  const milliseconds = headers.get('retry-after-ms');
  if (milliseconds !== null && milliseconds.length <= 20) {
    const value = Number.parseFloat(milliseconds);
    if (Number.isFinite(value) && value >= 0) return Math.min(value, longestWaitMs);
  }
  const retryAfter = headers.get('retry-after');
  if (retryAfter === null || retryAfter.length > 64) return undefined;
  // Seconds; of a list (repeated headers joined by a proxy), the first.
  const seconds = /^\s*(\d+(?:\.\d+)?)\s*(?:,|$)/.exec(retryAfter);
  if (seconds !== null) return Math.min(Number.parseFloat(seconds[1] as string) * 1000, longestWaitMs);
  const date = parseHttpDate(retryAfter);
  return date === undefined ? undefined : Math.min(Math.max(0, date - now), longestWaitMs);
}

/** The wait a failed call's provider asked for, long ones included (they are in the SDK error's headers). */
export function requestedWaitMs(error: KeelError, now: number = Date.now()): number | undefined {
  const headers = (error.cause as { headers?: unknown } | undefined)?.headers;
  const fromHeaders = isHeaderLookup(headers) ? readRetryAfter(headers, now) : undefined;
  return fromHeaders ?? error.retryAfterMs;
}

function isHeaderLookup(value: unknown): value is HeaderLookup {
  return typeof value === 'object' && value !== null && typeof (value as { get?: unknown }).get === 'function';
}

/**
 * Spreads retries of callers that were refused together: up to a fifth more than asked (at most 5 s more), never
 * less, since a provider's retry-after is a minimum.
 */
export function jitteredWait(delayMs: number, random: () => number): number {
  return Math.round(delayMs + random() * Math.min(delayMs * 0.2, 5_000));
}

export interface RetryPlanInput {
  readonly error: KeelError;
  /** Retries already made. */
  readonly retries: number;
  readonly backoff: BackoffOptions;
  readonly random: () => number;
  readonly now: number;
  /** The session's deadline (epoch milliseconds); a long wait past it fails at once. */
  readonly deadlineAt?: number | null | undefined;
  /** Without a deadline, the longest wait honoured. */
  readonly maxLongWaitMs: number;
}

/** How long to wait before the next retry, or the error to fail with at once when the wait cannot fit. */
export function planRetryWait(input: RetryPlanInput): { readonly delayMs: number } | { readonly giveUp: KeelError } {
  const requested = requestedWaitMs(input.error, input.now);
  if (requested !== undefined && requested > longWaitThresholdMs) {
    const allowed = input.deadlineAt === undefined || input.deadlineAt === null ? input.maxLongWaitMs : input.deadlineAt - input.now;
    if (requested > allowed) return { giveUp: longWaitError(input.error, requested, allowed, input.deadlineAt) };
    return { delayMs: jitteredWait(requested, input.random) };
  }
  if (requested !== undefined) return { delayMs: jitteredWait(requested, input.random) };
  return { delayMs: backoffDelay(input.retries, undefined, input.backoff, input.random) };
}

/** `model-rate-limited`, at once, saying how long the provider asked to wait and why that is not waited out. */
export function longWaitError(cause: KeelError | undefined, waitMs: number, allowedMs: number, deadlineAt: number | null | undefined): KeelError {
  const limit = deadlineAt === undefined || deadlineAt === null ? `the longest wait allowed (${formatWait(allowedMs)})` : `the session's deadline (${formatWait(Math.max(0, allowedMs))} from now)`;
  return new KeelError(
    'model-rate-limited',
    `The provider's rate limit needs a wait of ${formatWait(waitMs)} before this call can be made, which is past ${limit}. Retry after that time, raise the account's rate limit, or route the agent to another account.`,
    { ...(cause === undefined ? {} : { cause }), retryAfterMs: waitMs, details: { ...(cause?.details ?? {}), waitMs, reason: 'long-wait' } },
  );
}

/** `95 s`, `4 min 10 s`, `2 h 5 min`. */
export function formatWait(milliseconds: number): string {
  const seconds = Math.ceil(Math.max(0, milliseconds) / 1000);
  if (seconds < 120) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes} min${seconds % 60 === 0 ? '' : ` ${seconds % 60} s`}`;
  return `${Math.floor(minutes / 60)} h${minutes % 60 === 0 ? '' : ` ${minutes % 60} min`}`;
}
