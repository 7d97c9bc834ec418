import { KeelError } from '../../errors/index.ts';

export interface PostgresFailureContext {
  /** Which database, without credentials: "PostgreSQL database keel on db.internal:5432 (schema public)". */
  readonly database: string;
  /** What Keel was doing, as a phrase: "appending to session ses_…". */
  readonly action: string;
}

interface Diagnosis {
  readonly message: string;
  readonly retryable: boolean;
}

// Errors of the socket under the pool: the server is down, restarting or unreachable for now.
const connectionCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * Turns an error of `pg` or PGlite into `storage-failure` with a message a person can act on. Retryable are the
 * failures that heal by themselves: a lost or refused connection, a server restarting, a serialization failure or
 * deadlock, too many connections. Wrong credentials, a missing database or missing privileges are not.
 */
export function toPostgresFailure(error: unknown, context: PostgresFailureContext): KeelError {
  if (error instanceof KeelError) return error;
  const code = errorCode(error);
  const reason = error instanceof Error ? error.message : String(error);
  const diagnosis = diagnose(code, reason, context);
  return new KeelError('storage-failure', diagnosis.message, {
    cause: error,
    retryable: diagnosis.retryable,
    details: { database: context.database, action: context.action, ...(code === undefined ? {} : { code }) },
  });
}

function diagnose(code: string | undefined, reason: string, { database, action }: PostgresFailureContext): Diagnosis {
  if (code === undefined) return diagnoseWithoutCode(reason, database, action);
  if (connectionCodes.has(code) || code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') {
    return {
      message: `Cannot reach the ${database} while ${action} (${code}: ${reason}). Check that the server is running and that KEEL_DATABASE_URL names it; Keel retries on the next operation.`,
      retryable: true,
    };
  }
  if (code === 'ENOTFOUND') return { message: `The host of the ${database} does not resolve (${reason}) while ${action}: check the host name in the database URL.`, retryable: false };
  if (code === '28P01' || code === '28000') {
    return { message: `The ${database} refused the login while ${action} (${reason}): check the user name and password in the database URL.`, retryable: false };
  }
  if (code === '3D000') return { message: `The ${database} does not exist (${reason}): create it (createdb) or fix the database name in the URL.`, retryable: false };
  if (code === '42501') {
    return { message: `The database user lacks a privilege needed for ${action} on the ${database} (${reason}): grant it, or use a user that owns Keel's schema.`, retryable: false };
  }
  if (code === '40001' || code === '40P01') return { message: `The ${database} aborted a transaction while ${action} (${reason}); retry it.`, retryable: true };
  if (code === '53300') {
    return { message: `The ${database} has no free connection slots while ${action} (${reason}): lower the pool size of the Keel processes or raise max_connections.`, retryable: true };
  }
  if (code === '53100') return { message: `The disk of the ${database} is full while ${action}: free space on the server, then retry.`, retryable: false };
  if (code === '25006') return { message: `The ${database} accepts only reads (a standby, or default_transaction_read_only) while ${action}: point Keel at the primary.`, retryable: false };
  if (code === '57014') return { message: `A statement on the ${database} was cancelled (statement timeout) while ${action}: ${reason}`, retryable: true };
  return { message: `PostgreSQL failed (${code}) while ${action} on the ${database}: ${reason}`, retryable: false };
}

function diagnoseWithoutCode(reason: string, database: string, action: string): Diagnosis {
  if (/timeout exceeded when trying to connect/i.test(reason)) {
    return {
      message: `No connection to the ${database} became free within the connection timeout while ${action}: the server is slow to accept, or every pooled connection is busy. Retry, or raise the pool size.`,
      retryable: true,
    };
  }
  if (/connection terminated|connection ended|not queryable/i.test(reason)) {
    return { message: `The connection to the ${database} was lost while ${action} (${reason}); Keel reconnects on the next operation.`, retryable: true };
  }
  return { message: `Storage failed while ${action} (the ${database}): ${reason}`, retryable: false };
}

function errorCode(error: unknown): string | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** A unique-constraint violation: two writers raced for the same key. */
export function isUniqueViolation(error: unknown): boolean {
  return errorCode(error) === '23505';
}
