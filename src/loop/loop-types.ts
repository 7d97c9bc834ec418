import type { Clock } from '../spec/clock.ts';
import type { ErrorRecord, SessionEvent, SessionStatus } from '../spec/events.ts';
import type { BlobStore, Journal } from '../spec/journal.ts';
import type { Model, ModelRequest, ModelResponse, ModelStreamPart } from '../spec/model.ts';
import type { ModelCallFacts, ModelCallHints } from '../spec/model-call.ts';
import type { RunModelSettings } from './model-settings.ts';
import type { Usage } from '../spec/usage.ts';
import type { ToolPipeline } from '../tools/index.ts';
import type { AnomalyThresholds } from '../tracing/anomalies.ts';
import type { ChildSessionRunner } from './child-sessions.ts';
import type { TreeBudget } from './tree-budget.ts';

/** The model as the loop sees it: one call, with retries and rate limits already applied by the gateway. */
export interface ModelCaller {
  readonly provider: string;
  readonly modelId: string;
  call(
    request: ModelRequest,
    options: {
      readonly signal: AbortSignal;
      readonly streaming: boolean;
      readonly onPart?: (part: ModelStreamPart) => void;
      readonly hints?: ModelCallHints;
      /** The session's deadline: a rate-limit wait that cannot end before it fails at once, saying how long it would be. */
      readonly deadlineAt?: number | null;
    },
  ): Promise<{ readonly response: ModelResponse; readonly retries: number; readonly latencyMs: number } & ModelCallFacts>;
  /** The provider's exact input-token count (Anthropic with a key); the context planner's fit check uses it when present. */
  readonly countTokens?: Model['countTokens'];
}

export interface LoopDependencies {
  readonly journal: Journal;
  readonly blobs: BlobStore;
  readonly model: ModelCaller;
  readonly clock: Clock;
  /** USD cost of one call's usage, null when the model has no price. */
  readonly price: (usage: Usage, modelId: string) => number | null;
  /** USD of a call's provider-hosted tool uses (web searches); none counted when not given. */
  readonly hostedToolCost?: (provider: string, uses: Readonly<Record<string, number>>) => number;
  /** The tool executor. Without one, calls are validated and run with their timeouts, and nothing else. */
  readonly tools?: ToolPipeline;
  /**
   * Resolves the model of a side call (an agent's verifier, a quarantined read) to a caller with the runtime's retries;
   * `createKeel` gives one. Without it a side model must be a `Model` object, called directly.
   */
  readonly modelFor?: (choice: string | Model) => ModelCaller;
  /** Thresholds of the anomaly signals, journaled as `anomaly` events; `false` turns them off. */
  readonly anomalies?: AnomalyThresholds | false;
  /** Runs the child sessions of subagent tools and handoffs; `createKeel` gives one, with leases. */
  readonly children?: ChildSessionRunner;
}

export type SessionUpdate =
  | { readonly type: 'event'; readonly event: SessionEvent }
  | { readonly type: 'model-part'; readonly turn: number; readonly part: ModelStreamPart };

export interface SessionResult {
  readonly sessionId: string;
  /** `awaiting-approval`: the session is suspended durably until `approve`/`reject`, then resumes; the process may exit meanwhile. */
  readonly status: SessionStatus | 'awaiting-approval';
  /** The calls waiting for a person, when suspended. */
  readonly pendingApprovals: readonly PendingApproval[];
  readonly output: string | null;
  readonly error: ErrorRecord | null;
  readonly turns: number;
  readonly usage: Usage;
  readonly costUsd: number | null;
}

export interface PendingApproval {
  readonly callId: string;
  readonly tool: string;
  readonly input: unknown;
  readonly rule: string;
  readonly reason: string;
  /** Set when the call waits in a child session (a subagent's): approve it there, then resume this session. */
  readonly sessionId?: string;
  /** The agent of that child session. */
  readonly agent?: string;
}

export interface RunOptions {
  /** The caller's cancellation: the session ends `cancelled` (calls in flight get a grace period to settle). */
  readonly signal?: AbortSignal;
  /**
   * Aborts when this process loses the session's lease to another writer. The run then stops before its next append
   * and its result rejects with `session-busy`; the journal is left as the other writer will find it.
   */
  readonly leaseLost?: AbortSignal;
  /** Request parameters for this run's model calls, over the agent's (journaled on each `model-request`). */
  readonly modelSettings?: RunModelSettings;
  /** Forward streamed model parts (text deltas, tool-call deltas) to the update stream, for live display. */
  readonly includeModelParts?: boolean;
  /** Called synchronously for each update, in order; an alternative to iterating the run. */
  readonly onUpdate?: (update: SessionUpdate) => void;
  /** This session's node in its tree's budget ledger (set by the runtime): every model call is charged to it and its ancestors. */
  readonly treeBudget?: TreeBudget;
}

/**
 * A running session: iterate it for live updates (from the start, if iterated right after it starts; a run nobody
 * iterates keeps only its first 128 updates, then none, and refuses a late iterator), await `result` for the outcome.
 */
export interface SessionRun extends AsyncIterable<SessionUpdate> {
  readonly sessionId: string;
  /** Resolves with the session's outcome, including failures the session recorded; rejects only when the journal itself cannot be written. */
  readonly result: Promise<SessionResult>;
}
