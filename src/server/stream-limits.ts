import { KeelError } from '../errors/index.ts';
import { ApiProblem } from './api-problem.ts';
import type { ApiPrincipal } from './api-keys.ts';

/** Caps on event streams open at once; each stream holds a socket and wakes on its session's events. */
export interface StreamLimitOptions {
  /** Streams one key may hold open at once (default 32). */
  readonly perKey?: number;
  /** Streams all keys of one tenant may hold open at once (default 256). */
  readonly perTenant?: number;
}

/** Counts the open event streams per key and per tenant and refuses one beyond either cap with 429. */
export class StreamLimits {
  readonly perKey: number;
  readonly perTenant: number;
  private readonly byKey = new Map<string, number>();
  private readonly byTenant = new Map<string, number>();

  constructor(options: StreamLimitOptions = {}) {
    this.perKey = wholeAtLeastOne(options.perKey ?? 32, 'perKey');
    this.perTenant = wholeAtLeastOne(options.perTenant ?? 256, 'perTenant');
  }

  /** Takes a slot for a new stream of `principal`; the returned release frees it (calling it twice frees it once). */
  open(principal: ApiPrincipal): () => void {
    if ((this.byKey.get(principal.keyId) ?? 0) >= this.perKey) {
      throw new ApiProblem({ status: 429, code: 'rate-limited', message: `Key ${principal.keyId} already holds ${this.perKey} open event streams, the most one key may; close one (or resume it with Last-Event-ID) before opening another.`, retryAfterSeconds: 1 });
    }
    if ((this.byTenant.get(principal.tenant) ?? 0) >= this.perTenant) {
      throw new ApiProblem({ status: 429, code: 'rate-limited', message: `Tenant ${principal.tenant} already holds ${this.perTenant} open event streams, the most one tenant may; close some before opening another.`, retryAfterSeconds: 1 });
    }
    adjust(this.byKey, principal.keyId, 1);
    adjust(this.byTenant, principal.tenant, 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      adjust(this.byKey, principal.keyId, -1);
      adjust(this.byTenant, principal.tenant, -1);
    };
  }

  /** Streams open now for a key (tests and metrics). */
  openFor(keyId: string): number {
    return this.byKey.get(keyId) ?? 0;
  }
}

function adjust(counts: Map<string, number>, name: string, by: number): void {
  const next = (counts.get(name) ?? 0) + by;
  if (next <= 0) counts.delete(name);
  else counts.set(name, next);
}

function wholeAtLeastOne(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new KeelError('invalid-config', `streams.${name} must be a whole number of at least 1, got ${value}.`);
  return value;
}
