/**
 * One writer per session. A process takes a session's lease in the store before it runs any step,
 * renews it while it works, and releases it when it stops. A second process is refused at once with
 * `session-busy`; a lease whose holder stopped renewing (a crash) expires and may be taken over.
 * Stateless workers claim sessions through the same port.
 */
export interface SessionLeaseRecord {
  readonly sessionId: string;
  /** Who holds it: a stable id of the process (host, pid and a random part). */
  readonly owner: string;
  /** Epoch milliseconds at which it was first taken by this owner. */
  readonly acquiredAt: number;
  /** Epoch milliseconds after which another owner may take it over. */
  readonly expiresAt: number;
  /** Increases by one at every change of owner: a fencing token for writes made under the lease. */
  readonly fence: number;
}

export interface AcquireLeaseRequest {
  readonly sessionId: string;
  readonly owner: string;
  /** How long the lease lasts without renewal. */
  readonly ttlMs: number;
}

export type AcquireLeaseResult =
  | { readonly acquired: true; readonly lease: SessionLeaseRecord; readonly tookOverFrom?: string }
  | { readonly acquired: false; readonly holder: SessionLeaseRecord };

export interface SessionLeaseStore {
  /** Takes the lease when it is free, expired, or already held by the same owner (then it is renewed). */
  acquire(request: AcquireLeaseRequest): Promise<AcquireLeaseResult>;
  /** Extends a held lease; false when the owner no longer holds it (it expired and was taken over). */
  renew(request: AcquireLeaseRequest): Promise<boolean>;
  /** Releases the lease if this owner holds it; a no-op otherwise. */
  release(sessionId: string, owner: string): Promise<void>;
  /** The current lease, expired or not; undefined when none was ever taken or it was released. */
  current(sessionId: string): Promise<SessionLeaseRecord | undefined>;
  close(): Promise<void>;
}
