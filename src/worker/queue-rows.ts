/** Where a queued session stands. */
export type QueueState = 'queued' | 'claimed' | 'waiting-approval' | 'done' | 'failed';

/** The budget of a queued session's tree, as `keel.run` takes it. */
export interface QueuedBudget {
  readonly tokens?: number;
  readonly costUsd?: number;
  readonly timeMs?: number;
}

/** A session's row in the run queue. Times are epoch milliseconds, from the database's clock. */
export interface QueuedRun {
  readonly sessionId: string;
  readonly agent: string;
  readonly agentModule: string | null;
  readonly task: string | null;
  readonly model: string | null;
  /** Whose token budget the run spends (the API key's tenant of a session started over HTTP). */
  readonly tenant: string | null;
  /** In the model queue, batch runs wait behind interactive ones. */
  readonly priority: 'interactive' | 'batch' | null;
  readonly budget: QueuedBudget | null;
  /** When a cancel was requested: the worker that holds the session stops it, and it ends `cancelled`. */
  readonly cancelRequestedAt: number | null;
  readonly cancelReason: string | null;
  readonly state: QueueState;
  /** Claims so far since it was queued (reset when a run ends or waits for approval). */
  readonly attempts: number;
  readonly claimedBy: string | null;
  /** The current claim's id: it names the claim in the history and fences settlements. */
  readonly claimId: number | null;
  readonly claimExpiresAt: number | null;
  readonly enqueuedAt: number;
  readonly availableAt: number;
  readonly updatedAt: number;
  /** While waiting for approval: the sessions whose calls wait (this one, or child sessions of it). */
  readonly waitingSessions: readonly string[];
  /** How the session ended (`completed`, `failed`, `cancelled`) once it has. */
  readonly resultStatus: string | null;
  /** The last failure of a run that did not reach an end, kept for the person who looks at a `failed` row. */
  readonly lastError: { readonly code: string; readonly message: string } | null;
}

/** One claim of the history: who held a session from when until when, and how the claim ended. */
export interface ClaimRecord {
  readonly claimId: number;
  readonly sessionId: string;
  readonly worker: string;
  readonly claimedAt: number;
  /** The claim's last expiry (it moves with each renewal). */
  readonly expiresAt: number;
  /** When it ended: settled by its worker, or, for a claim that expired, its expiry. Null while held. */
  readonly endedAt: number | null;
  /** `completed`, `failed`, `cancelled`, `waiting-approval`, `handed-off`, `busy`, `error`, `gave-up`, or `expired` (taken over). */
  readonly outcome: string | null;
}

/** How a claimed run ended, as the worker settles it. */
export type Settlement =
  | { readonly kind: 'ended'; readonly status: 'completed' | 'failed' | 'cancelled' }
  | { readonly kind: 'waiting-approval'; readonly waitingSessions: readonly string[] }
  | { readonly kind: 'retry'; readonly outcome: 'handed-off' | 'busy' | 'error'; readonly delayMs: number; readonly error: { readonly code: string; readonly message: string } | null }
  | { readonly kind: 'gave-up'; readonly error: { readonly code: string; readonly message: string } };

export interface QueueRow {
  readonly session_id: string;
  readonly agent: string;
  readonly agent_module: string | null;
  readonly task: string | null;
  readonly model: string | null;
  readonly tenant: string | null;
  readonly priority: string | null;
  readonly budget: QueuedBudget | null;
  readonly cancel_requested_at: Date | null;
  readonly cancel_reason: string | null;
  readonly state: QueueState;
  readonly available_at: Date;
  readonly enqueued_at: Date;
  readonly updated_at: Date;
  readonly attempts: number;
  readonly claimed_by: string | null;
  readonly claim_id: string | null;
  readonly claim_expires_at: Date | null;
  readonly waiting_sessions: readonly string[];
  readonly result_status: string | null;
  readonly last_error: { code: string; message: string } | null;
}

export interface ClaimRow {
  readonly claim_id: string;
  readonly session_id: string;
  readonly worker: string;
  readonly claimed_at: Date;
  readonly expires_at: Date;
  readonly ended_at: Date | null;
  readonly outcome: string | null;
}

export function queuedRunOf(row: QueueRow): QueuedRun {
  return {
    sessionId: row.session_id,
    agent: row.agent,
    agentModule: row.agent_module,
    task: row.task,
    model: row.model,
    tenant: row.tenant ?? null,
    priority: row.priority === 'batch' || row.priority === 'interactive' ? row.priority : null,
    budget: row.budget ?? null,
    cancelRequestedAt: row.cancel_requested_at == null ? null : row.cancel_requested_at.getTime(),
    cancelReason: row.cancel_reason ?? null,
    state: row.state,
    attempts: row.attempts,
    claimedBy: row.claimed_by,
    claimId: row.claim_id === null ? null : Number(row.claim_id),
    claimExpiresAt: row.claim_expires_at === null ? null : row.claim_expires_at.getTime(),
    enqueuedAt: row.enqueued_at.getTime(),
    availableAt: row.available_at.getTime(),
    updatedAt: row.updated_at.getTime(),
    waitingSessions: row.waiting_sessions,
    resultStatus: row.result_status,
    lastError: row.last_error,
  };
}

export function claimRecordOf(row: ClaimRow): ClaimRecord {
  return {
    claimId: Number(row.claim_id),
    sessionId: row.session_id,
    worker: row.worker,
    claimedAt: row.claimed_at.getTime(),
    expiresAt: row.expires_at.getTime(),
    endedAt: row.ended_at === null ? null : row.ended_at.getTime(),
    outcome: row.outcome,
  };
}

interface SettlementValues {
  readonly state: QueueState;
  readonly delayMs: number;
  readonly resultStatus: string | null;
  readonly error: string | null;
  readonly waitingSessions: readonly string[];
  readonly resetAttempts: boolean;
  readonly outcome: string;
}

/** The columns a settlement writes. */
export function settlementValues(settlement: Settlement): SettlementValues {
  switch (settlement.kind) {
    case 'ended':
      return { state: 'done', delayMs: 0, resultStatus: settlement.status, error: null, waitingSessions: [], resetAttempts: true, outcome: settlement.status };
    case 'waiting-approval':
      return { state: 'waiting-approval', delayMs: 0, resultStatus: null, error: null, waitingSessions: settlement.waitingSessions, resetAttempts: true, outcome: 'waiting-approval' };
    case 'retry':
      return {
        state: 'queued',
        delayMs: Math.max(0, Math.round(settlement.delayMs)),
        resultStatus: null,
        error: settlement.error === null ? null : JSON.stringify(settlement.error),
        waitingSessions: [],
        // A hand-off or a busy lease is no fault of the session: it does not count towards giving up.
        resetAttempts: settlement.outcome !== 'error',
        outcome: settlement.outcome,
      };
    case 'gave-up':
      return { state: 'failed', delayMs: 0, resultStatus: null, error: JSON.stringify(settlement.error), waitingSessions: [], resetAttempts: false, outcome: 'gave-up' };
  }
}
