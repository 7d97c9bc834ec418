/*
 * What the HTTP server needs of the workers' run queue. `createRunQueue` (docs/workers.md) implements it; the server
 * depends only on this port, so it runs with any queue of the same behaviour.
 */

/** A session handed to workers instead of run here: what a queue needs to start it. */
export interface QueuedSessionRequest {
  readonly sessionId: string;
  readonly agent: string;
  readonly task: string;
  readonly tenant: string;
  readonly priority: 'interactive' | 'batch';
  readonly budget?: { readonly tokens?: number; readonly costUsd?: number; readonly timeMs?: number };
}

/** A session's row in the run queue, as far as the server reads it. Times are epoch milliseconds. */
export interface QueuedSessionState {
  readonly state: 'queued' | 'claimed' | 'waiting-approval' | 'done' | 'failed';
  readonly task: string | null;
  readonly claimId: number | null;
  readonly claimExpiresAt: number | null;
  readonly cancelRequestedAt: number | null;
  /** The last failure of a run that did not reach an end (kept on a row the queue gave up on). */
  readonly lastError: { readonly code: string; readonly message: string } | null;
}

/** How the server settles a session it claimed to cancel: ended, or handed back to the workers. */
export type ServerSettlement =
  | { readonly kind: 'ended'; readonly status: 'completed' | 'failed' | 'cancelled' }
  | { readonly kind: 'retry'; readonly outcome: 'handed-off'; readonly delayMs: number; readonly error: null };

/** A LISTEN connection the server holds; `close` ends it. */
export interface SessionQueueListener {
  close(): Promise<void>;
}

/** The run queue of `keel worker` processes, as the server uses it. */
export interface SessionQueue {
  /** Queues a new session; resolves once it is durably queued. */
  enqueue(request: QueuedSessionRequest): Promise<{ readonly sessionId: string }>;
  /** The session's row, or undefined when it was never queued. */
  status(sessionId: string): Promise<QueuedSessionState | undefined>;
  /** Wakes a session that waits for approval once a decision is journaled; the next free worker continues it. */
  wake(sessionId: string): Promise<readonly string[]>;
  /** Records a cancel request and announces it to the worker holding the session; undefined when not queued or ended. */
  requestCancel(request: { readonly sessionId: string; readonly reason: string }): Promise<QueuedSessionState | undefined>;
  /** Claims a session whose cancel was requested when no live claim holds it, to end it here. */
  claimForCancel(request: { readonly sessionId: string; readonly worker: string; readonly ttlMs: number }): Promise<QueuedSessionState | undefined>;
  /** Settles a claim this server took. */
  settle(claim: { readonly sessionId: string; readonly claimId: number }, settlement: ServerSettlement): Promise<boolean>;
  /** Hears that workers journaled events of a session (LISTEN), so event streams read them at once. */
  subscribe(subscription: { readonly onSessionEvents?: (sessionId: string) => void }): Promise<SessionQueueListener>;
}
