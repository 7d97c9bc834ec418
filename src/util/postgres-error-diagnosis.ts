/*
 * What an error of `pg` or PGlite means to a person running Keel, and whether it heals by itself. The session stores
 * (store/postgres) and the memory store (memory/) both report PostgreSQL failures with it, each as its own error type.
 */

/** Which database (without credentials) and what Keel was doing, as a phrase: "appending to session ses_…". */
export interface PostgresErrorContext {
  readonly database: string;
  readonly action: string;
}

export interface PostgresErrorDiagnosis {
  readonly message: string;
  /** A lost or refused connection, a server restarting, a serialization failure or deadlock, too many connections. */
  readonly retryable: boolean;
  /** The SQLSTATE or socket error code, when the driver gave one. */
  readonly code?: string;
}

// Errors of the socket under the pool: the server is down, restarting or unreachable for now.
const connectionCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** Diagnoses a driver error: wrong credentials, a missing database or missing privileges are not retryable. */
export function diagnosePostgresError(error: unknown, context: PostgresErrorContext): PostgresErrorDiagnosis {
  const code = postgresErrorCode(error);
  const reason = error instanceof Error ? error.message : String(error);
  const diagnosis = diagnose(code, reason, context);
  return code === undefined ? diagnosis : { ...diagnosis, code };
}

function diagnose(code: string | undefined, reason: string, { database, action }: PostgresErrorContext): PostgresErrorDiagnosis {
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

function diagnoseWithoutCode(reason: string, database: string, action: string): PostgresErrorDiagnosis {
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

/** The SQLSTATE (`23505`) or socket code (`ECONNREFUSED`) of a driver error. */
export function postgresErrorCode(error: unknown): string | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

