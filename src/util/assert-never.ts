/**
 * Exhaustiveness checks for folds over tagged unions (session events above all). Both take `never`, so a member
 * added to the union without a case of its own fails to compile in every fold that uses them.
 */

/** Unreachable by construction: throws, with the value, when a value outside the union arrives anyway. */
export function assertNever(value: never, fail?: (value: unknown) => Error): never {
  throw fail?.(value) ?? new TypeError(`Unexpected value outside its union: ${describe(value)}.`);
}

/**
 * The same compile-time check for folds that must tolerate a value from a newer writer at run time (telemetry and
 * progress output never break a session): such a value is ignored.
 */
export function ignoreNever(value: never): void {
  void value;
}

function describe(value: unknown): string {
  if (typeof value === 'object' && value !== null && 'type' in value) return `type "${String((value as { type: unknown }).type)}"`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
