import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { KeelError } from '../errors/index.ts';

/** Codes of refusals that belong to HTTP itself rather than to the runtime (those are KeelError codes). */
export type ApiProblemCode = 'unauthorized' | 'forbidden' | 'not-found' | 'payload-too-large' | 'rate-limited' | 'invalid-request';

/** A refusal at the HTTP layer: no key, a role the key lacks, an unknown route, a body too large, too many requests. */
export class ApiProblem extends Error {
  override readonly name = 'ApiProblem';
  readonly status: ContentfulStatusCode;
  readonly code: ApiProblemCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;
  readonly retryAfterSeconds: number | undefined;

  constructor(options: { status: ContentfulStatusCode; code: ApiProblemCode; message: string; details?: Readonly<Record<string, unknown>>; retryAfterSeconds?: number }) {
    super(options.message);
    this.status = options.status;
    this.code = options.code;
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** The 404 of a session that does not exist and of one that belongs to another tenant: the same answer, so ids do not leak. */
export function sessionNotVisible(sessionId: string): KeelError {
  return new KeelError('session-not-found', `No session ${sessionId} for this key's tenant.`);
}
