import type { KeelError } from '../errors/index.ts';
import type { ModelRequest } from '../spec/model.ts';

/** What a route does after an attempt failed. */
export interface RouteFailure {
  /** Journaled as the attempt's reason. */
  readonly reason: string;
  /** Whether the next entry may succeed where this one failed; otherwise the call fails at once. */
  readonly moveOn: boolean;
  /** Whose health the failure says something about: the account (its limits, key, quota) and/or the model. */
  readonly countsAgainst: { readonly account: boolean; readonly model: boolean };
}

const byCode: Readonly<Record<string, RouteFailure>> = {
  'model-rate-limited': { reason: 'rate-limited', moveOn: true, countsAgainst: { account: true, model: false } },
  'model-overloaded': { reason: 'overloaded', moveOn: true, countsAgainst: { account: false, model: true } },
  'model-server-error': { reason: 'server-error', moveOn: true, countsAgainst: { account: true, model: true } },
  'model-timeout': { reason: 'timeout', moveOn: true, countsAgainst: { account: true, model: true } },
  'model-connection': { reason: 'connection', moveOn: true, countsAgainst: { account: true, model: false } },
  'model-stream-cut': { reason: 'stream-cut', moveOn: true, countsAgainst: { account: true, model: true } },
  'model-malformed-response': { reason: 'malformed-response', moveOn: true, countsAgainst: { account: false, model: true } },
  // Another account can have the credit, the key or the permission this one lacks; each is this account's problem.
  'model-quota-exhausted': { reason: 'quota-exhausted', moveOn: true, countsAgainst: { account: true, model: false } },
  'model-authentication': { reason: 'authentication', moveOn: true, countsAgainst: { account: true, model: false } },
  'model-permission': { reason: 'permission', moveOn: true, countsAgainst: { account: true, model: false } },
  'model-not-found': { reason: 'model-not-found', moveOn: true, countsAgainst: { account: false, model: true } },
};

/**
 * 429, 529, 5xx, timeouts, broken connections and account problems move on to the next entry; a request the provider
 * judged invalid, too large for the window, or a cancellation end the call, since every entry would answer the same.
 */
export function classifyRouteFailure(error: KeelError): RouteFailure {
  return byCode[error.code] ?? { reason: error.code, moveOn: false, countsAgainst: { account: false, model: false } };
}

/** The parameters a provider has no field for, which its model therefore does not send. */
export function unsentParameters(provider: string, request: ModelRequest): string[] {
  const unsent: string[] = [];
  if (provider === 'anthropic') {
    // API version 2026-10-21 refuses every sampling parameter.
    if (request.temperature !== undefined) unsent.push('temperature');
    if (request.topP !== undefined) unsent.push('topP');
    if (request.seed !== undefined) unsent.push('seed');
  }
  return unsent;
}
