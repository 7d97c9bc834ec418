import { KeelError } from '../errors/index.ts';
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

/**
 * The values `--status` accepts. Spelled out here rather than imported from the runtime, whose module graph (the
 * session fold, the model clients) would then load for every command, `keel --help` included; the type below fails
 * to compile when a status is added there and not here.
 */
const sessionStatuses = ['running', 'waiting-approval', 'interrupted', 'completed', 'failed', 'cancelled'] as const satisfies readonly DerivedSessionStatus[];
const everyStatusListed: [Exclude<DerivedSessionStatus, (typeof sessionStatuses)[number]>] extends [never] ? true : never = true;
void everyStatusListed;

export function sessionStatus(value: string): DerivedSessionStatus {
  const found = sessionStatuses.find((status) => status === value);
  if (found === undefined) throw new KeelError('invalid-argument', `--status must be one of ${sessionStatuses.join(', ')}, got "${value}".`);
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
