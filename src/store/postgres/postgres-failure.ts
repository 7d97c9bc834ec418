import { KeelError } from '../../errors/index.ts';
import { diagnosePostgresError, postgresErrorCode } from '../../util/postgres-error-diagnosis.ts';

export interface PostgresFailureContext {
  /** Which database, without credentials: "PostgreSQL database keel on db.internal:5432 (schema public)". */
  readonly database: string;
  /** What Keel was doing, as a phrase: "appending to session ses_…". */
  readonly action: string;
}

/**
 * Turns an error of `pg` or PGlite into `storage-failure` with a message a person can act on. Retryable are the
 * failures that heal by themselves: a lost or refused connection, a server restarting, a serialization failure or
 * deadlock, too many connections. Wrong credentials, a missing database or missing privileges are not.
 */
export function toPostgresFailure(error: unknown, context: PostgresFailureContext): KeelError {
  if (error instanceof KeelError) return error;
  const diagnosis = diagnosePostgresError(error, context);
  return new KeelError('storage-failure', diagnosis.message, {
    cause: error,
    retryable: diagnosis.retryable,
    details: { database: context.database, action: context.action, ...(diagnosis.code === undefined ? {} : { code: diagnosis.code }) },
  });
}

/** A unique-constraint violation: two writers raced for the same key. */
export function isUniqueViolation(error: unknown): boolean {
  return postgresErrorCode(error) === '23505';
}
