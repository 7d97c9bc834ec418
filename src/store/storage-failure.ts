import { KeelError } from '../errors/index.ts';

export interface StorageContext {
  /** The database file, so the person reading the error knows which one to look at. */
  readonly path: string;
  /** What Keel was doing, as a phrase: "appending to session ses_…". */
  readonly action: string;
}

interface Diagnosis {
  readonly message: string;
  readonly retryable: boolean;
}

/**
 * Turns a SQLite or file-system error into `storage-failure` with a message a person can act on.
 * Only lock timeouts and transient I/O are retryable: a full disk or a read-only file does not heal
 * within a retry's backoff, so retrying would only delay the report.
 */
export function toStorageFailure(error: unknown, context: StorageContext): KeelError {
  if (error instanceof KeelError) return error;
  const code = errorCode(error);
  const reason = error instanceof Error ? error.message : String(error);
  const diagnosis = diagnose(code, reason, context);
  return new KeelError('storage-failure', diagnosis.message, {
    cause: error,
    retryable: diagnosis.retryable,
    details: { path: context.path, action: context.action, ...(code === undefined ? {} : { code }) },
  });
}

function diagnose(code: string | undefined, reason: string, { path, action }: StorageContext): Diagnosis {
  const where = `the SQLite database at ${path}`;
  if (code === undefined) return { message: `Storage failed while ${action} (${where}): ${reason}`, retryable: false };
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return {
      message: `Timed out waiting for the write lock on ${where} while ${action}: another connection or process held it longer than the busy timeout. Retry, or raise busyTimeoutMs if writers are slow.`,
      retryable: true,
    };
  }
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || (code.startsWith('SQLITE_IOERR') && /disk is full/i.test(reason))) {
    return { message: `The disk holding ${where} is full, or the database reached its size limit, while ${action}. Free space on that volume, then retry.`, retryable: false };
  }
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS') {
    return {
      message: `${capitalise(where)} is read-only, so ${action} failed. Check that the file, its -wal and -shm companions and their folder are writable by this process, and that the volume is not mounted read-only.`,
      retryable: false,
    };
  }
  if (code.startsWith('SQLITE_CANTOPEN') || code === 'EACCES' || code === 'EPERM' || code === 'ENOTDIR') {
    return { message: `Cannot open ${where} while ${action}: check that the path is right and that its folder exists and is writable (${reason}).`, retryable: false };
  }
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') {
    return { message: `The file at ${path} is not a SQLite database or is damaged (${reason}), found while ${action}. Restore it from a backup, or point Keel at another file.`, retryable: false };
  }
  if (code.startsWith('SQLITE_IOERR')) {
    return { message: `The disk returned an I/O error (${code}) on ${where} while ${action}. Check the disk and its free space, then retry.`, retryable: true };
  }
  return { message: `SQLite failed (${code}) while ${action} on ${where}: ${reason}`, retryable: false };
}

function errorCode(error: unknown): string | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
