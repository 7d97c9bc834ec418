/** Who is at fault decides who can act on an error: the caller, the model (it can retry differently), a tool, a policy, or Keel and its infrastructure. */
export type Fault = 'user' | 'model' | 'tool' | 'policy' | 'system';

/** The closed set of error codes. Adding one is a deliberate change: the server's status table must cover it. */
export const keelCodes = {
  'invalid-config': { fault: 'user', retryable: false },
  'invalid-argument': { fault: 'user', retryable: false },
  'missing-credentials': { fault: 'user', retryable: false },
  'session-not-found': { fault: 'user', retryable: false },
  'session-finished': { fault: 'user', retryable: false },
  'session-busy': { fault: 'user', retryable: true },
  cancelled: { fault: 'user', retryable: false },
  'model-rate-limited': { fault: 'model', retryable: true },
  'model-overloaded': { fault: 'model', retryable: true },
  'model-server-error': { fault: 'model', retryable: true },
  'model-connection': { fault: 'model', retryable: true },
  'model-timeout': { fault: 'model', retryable: true },
  'model-stream-cut': { fault: 'model', retryable: true },
  'model-quota-exhausted': { fault: 'model', retryable: false },
  'model-bad-request': { fault: 'system', retryable: false },
  'model-authentication': { fault: 'user', retryable: false },
  'model-permission': { fault: 'user', retryable: false },
  'model-not-found': { fault: 'user', retryable: false },
  'model-context-window': { fault: 'system', retryable: false },
  'model-malformed-response': { fault: 'model', retryable: true },
  'model-refusal': { fault: 'model', retryable: false },
  /** A new session refused by admission control (token budget spent, queue too long); `retryAfterMs` says when to try again. */
  'admission-refused': { fault: 'policy', retryable: true },
  'tool-unknown': { fault: 'model', retryable: false },
  'tool-invalid-input': { fault: 'model', retryable: false },
  'tool-failed': { fault: 'tool', retryable: false },
  'tool-timeout': { fault: 'tool', retryable: false },
  'tool-call-limit': { fault: 'model', retryable: false },
  'tool-result-too-large': { fault: 'tool', retryable: false },
  'tool-outcome-unknown': { fault: 'tool', retryable: false },
  'tool-denied': { fault: 'policy', retryable: false },
  'tool-rate-limited': { fault: 'policy', retryable: true },
  'approval-rejected': { fault: 'policy', retryable: false },
  'approval-not-pending': { fault: 'user', retryable: false },
  'sandbox-unavailable': { fault: 'system', retryable: false },
  'sandbox-limit': { fault: 'tool', retryable: false },
  'sandbox-violation': { fault: 'tool', retryable: false },
  'sandbox-crashed': { fault: 'tool', retryable: false },
  'tool-output-rejected': { fault: 'tool', retryable: false },
  'compensation-failed': { fault: 'tool', retryable: false },
  'audit-tampered': { fault: 'system', retryable: false },
  'mcp-unavailable': { fault: 'tool', retryable: true },
  'guard-tripped': { fault: 'policy', retryable: false },
  'answer-withheld': { fault: 'policy', retryable: false },
  'journal-conflict': { fault: 'system', retryable: true },
  'journal-corrupt': { fault: 'system', retryable: false },
  'storage-failure': { fault: 'system', retryable: true },
  'storage-key-invalid': { fault: 'user', retryable: false },
  'deadline-exceeded': { fault: 'policy', retryable: false },
  /** A workflow gate rejected a step's output after its bounded retries. */
  'gate-rejected': { fault: 'model', retryable: false },
  /** Too few parallel branches or voters succeeded or agreed for the workflow's failure policy. */
  'quorum-not-met': { fault: 'tool', retryable: false },
  /** The planner's model returned no valid plan, also after the one retry that showed it the validation error. */
  'plan-invalid': { fault: 'model', retryable: false },
  /** An eval replay sent a model request its cassette does not hold: the agent, suite or tools changed since recording. */
  'cassette-mismatch': { fault: 'user', retryable: false },
  /** A session's agent is not among those this process loaded (a server or worker started without it). */
  'agent-not-loaded': { fault: 'user', retryable: false },
  internal: { fault: 'system', retryable: false },
} as const satisfies Record<string, { fault: Fault; retryable: boolean }>;

export type KeelCode = keyof typeof keelCodes;

export interface KeelErrorOptions {
  readonly cause?: unknown;
  /** Overrides the code's default, for example a 500 the provider marked `x-should-retry: false`. */
  readonly retryable?: boolean;
  /** Provider-requested wait before a retry, from `retry-after-ms` or `retry-after`. */
  readonly retryAfterMs?: number;
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * Marks Keel errors across copies of the package: two installs (a library and an app each with its own Keel) have
 * two KeelError classes, so `instanceof` fails between them; a registered symbol is the same in both.
 */
const keelErrorBrand = Symbol.for('keel.error');

/**
 * Every failure Keel reports: a closed `code`, who is at `fault`, whether a retry can help, and a message a person
 * can act on.
 * @example
 * try {
 *   await keel.resume(agent, sessionId);
 * } catch (error) {
 *   if (isKeelError(error, 'session-busy')) console.log(error.message, error.details);
 *   else throw error;
 * }
 */
export class KeelError extends Error {
  override readonly name = 'KeelError';
  readonly [keelErrorBrand] = true;
  readonly code: KeelCode;
  readonly fault: Fault;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: KeelCode, message: string, options: KeelErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.fault = keelCodes[code].fault;
    this.retryable = options.retryable ?? keelCodes[code].retryable;
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details ?? {};
  }

  toRecord(): { code: KeelCode; message: string; fault: Fault; retryable: boolean } {
    return { code: this.code, message: this.message, fault: this.fault, retryable: this.retryable };
  }
}

/**
 * True for a KeelError from any copy of the package, optionally of one code.
 * @example
 * ```ts
 * try {
 *   await keel.decide(agent, sessionId, callId, { approved: true, approver: 'ops@example.com' });
 * } catch (error) {
 *   if (isKeelError(error, 'session-busy')) console.log('Another process is running this session; decide again later.');
 *   else throw error;
 * }
 * ```
 */
export function isKeelError(value: unknown, code?: KeelCode): value is KeelError {
  const branded = value instanceof KeelError || (typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[keelErrorBrand] === true);
  return branded && (code === undefined || (value as KeelError).code === code);
}

/** Wraps anything thrown into a KeelError, keeping the original as `cause`. Abort errors become `cancelled`. */
export function toKeelError(value: unknown, fallbackCode: KeelCode = 'internal'): KeelError {
  if (isKeelError(value)) return value;
  if (value instanceof Error && (value.name === 'AbortError' || (value as { code?: string }).code === 'ABORT_ERR')) {
    return new KeelError('cancelled', 'The operation was cancelled.', { cause: value });
  }
  const message = value instanceof Error ? value.message : String(value);
  return new KeelError(fallbackCode, message, { cause: value });
}
