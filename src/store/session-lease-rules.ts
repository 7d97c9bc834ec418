import { KeelError } from '../errors/index.ts';
import type { AcquireLeaseRequest } from '../spec/session-lease.ts';

/** Rejects a request no backend could honour, before it touches storage. */
export function checkLeaseRequest(request: AcquireLeaseRequest): void {
  checkLeaseParties(request.sessionId, request.owner);
  if (!(Number.isSafeInteger(request.ttlMs) && request.ttlMs > 0)) {
    throw new KeelError('invalid-argument', `A lease's ttlMs must be a positive whole number of milliseconds, got ${request.ttlMs}.`);
  }
}

export function checkLeaseParties(sessionId: string, owner: string): void {
  if (typeof sessionId !== 'string' || sessionId === '') throw new KeelError('invalid-argument', 'A lease needs a non-empty sessionId.');
  if (typeof owner !== 'string' || owner === '') throw new KeelError('invalid-argument', `A lease on session ${sessionId} needs a non-empty owner id.`);
}
