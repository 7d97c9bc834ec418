import { KeelError } from '../errors/index.ts';
import { derivedSessionStatuses } from '../runtime/session-status.ts';
import type { DerivedSessionStatus } from '../runtime/session-status.ts';

/*
 * Parsers of option and argument values. Each throws an `invalid-argument` KeelError that names the flag and the
 * value received, so that the message is the whole story (exit code 2).
 */

export function positiveInteger(flag: string): (value: string) => number {
  return (value) => {
    const number = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(number) || number < 1) throw new KeelError('invalid-argument', `${flag} must be a positive integer, got "${value}".`);
    return number;
  };
}

export function sessionStatus(value: string): DerivedSessionStatus {
  const found = derivedSessionStatuses.find((status) => status === value);
  if (found === undefined) throw new KeelError('invalid-argument', `--status must be one of ${derivedSessionStatuses.join(', ')}, got "${value}".`);
  return found;
}

export function jsonValue(flag: string): (value: string) => unknown {
  return (value) => {
    try {
      return JSON.parse(value) as unknown;
    } catch (error) {
      throw new KeelError('invalid-argument', `${flag} must be JSON: ${error instanceof Error ? error.message : String(error)}.`);
    }
  };
}

export function nonEmptyText(flag: string): (value: string) => string {
  return (value) => {
    if (value.trim() === '') throw new KeelError('invalid-argument', `${flag} must not be empty.`);
    return value;
  };
}
