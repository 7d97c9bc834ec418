import { describe, expect, it } from 'vitest';
import { readRetryAfter } from '../../src/model/limits/retry-wait.ts';
import { parseHttpDate } from '../../src/util/backoff.ts';
import { parseRetryAfter } from '../../src/util/index.ts';

const headers = (values: Record<string, string>): { get(name: string): string | null } => ({ get: (name) => values[name] ?? null });
const now = Date.UTC(2026, 11, 7, 12, 0, 0);

describe('HTTP-dates in Retry-After', () => {
  it('reads the three forms HTTP allows', () => {
    const expected = Date.UTC(2026, 11, 7, 12, 0, 30);
    expect(parseHttpDate('Mon, 07 Dec 2026 12:00:30 GMT')).toBe(expected);
    expect(parseHttpDate('Monday, 07-Dec-26 12:00:30 GMT')).toBe(expected);
    expect(parseHttpDate('Mon Dec  7 12:00:30 2026')).toBe(expected);
  });

  it('reads nothing else as a date, so a wait is never turned into none', () => {
    for (const text of ['-5', '3, 4', 'Mar 4', '1', 'tomorrow', '2026-12-07T12:00:30Z']) expect(parseHttpDate(text)).toBeUndefined();
    expect(readRetryAfter(headers({ 'retry-after': '-5' }), now)).toBeUndefined();
    expect(parseRetryAfter(headers({ 'retry-after': 'Mar 4' }), now)).toBeUndefined();
  });

  it('takes the first of a list of seconds, and still waits out a date', () => {
    expect(readRetryAfter(headers({ 'retry-after': '3, 4' }), now)).toBe(3_000);
    expect(readRetryAfter(headers({ 'retry-after': 'Mon, 07 Dec 2026 12:00:30 GMT' }), now)).toBe(30_000);
    expect(parseRetryAfter(headers({ 'retry-after': 'Mon, 07 Dec 2026 12:00:30 GMT' }), now)).toBe(30_000);
    expect(readRetryAfter(headers({ 'retry-after': 'Fri, 31 Dec 9999 23:59:59 GMT' }), now)).toBe(86_400_000);
  });
});
