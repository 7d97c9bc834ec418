import type { ContentBlock } from './message.ts';
import type { StopReason } from './stop-reason.ts';
import type { Usage } from './usage.ts';

/**
 * The session journal's wire format. Every event carries `v`; readers accept the versions in
 * `supportedEventVersions` and historical journals are test fixtures that must keep loading.
 */
export const currentEventVersion = 1;
export const supportedEventVersions: readonly number[] = [1];

export interface EventEnvelope {
  readonly v: number;
  readonly sessionId: string;
  /** Position in the session's journal, from 1, without gaps. */
  readonly seq: number;
  /** Wall-clock time of the write, epoch milliseconds. */
  readonly at: number;
}

export interface SessionLimits {
  readonly maxTurns: number;
  /** Absolute deadline (epoch ms), fixed at session start so it survives resume; null for none. */
  readonly deadlineAt: number | null;
  readonly maxInputTokens: number | null;
  readonly maxOutputTokens: number | null;
  readonly maxCostUsd: number | null;
  /** The same tool with the same input this many times in a row trips the guard. */
  readonly maxIdenticalToolCalls: number;
}

export interface ErrorRecord {
  readonly code: string;
  readonly message: string;
  readonly fault: string;
  readonly retryable: boolean;
}

export interface SessionStartEvent extends EventEnvelope {
  readonly type: 'session-start';
  readonly agent: {
    readonly name: string;
    readonly instructionsHash: string;
    readonly tools: readonly string[];
    /** Absolute path of the module that defined the agent, when started from one, so `keel resume` can load it again. */
    readonly module?: string;
  };
  /** `spec` is the model spec the session was started with (`anthropic:…`, `scripted:…`), so a resume uses the same model. */
  readonly model: { readonly provider: string; readonly modelId: string; readonly spec?: string };
  readonly input: string;
  readonly limits: SessionLimits;
  readonly parentSessionId?: string;
  /** The per-session random fence of untrusted content, when the agent plans its context. */
  readonly contextBoundary?: string;
}

export interface TurnStartEvent extends EventEnvelope {
  readonly type: 'turn-start';
  readonly turn: number;
}

export interface ContextAssembleEvent extends EventEnvelope {
  readonly type: 'context-assemble';
  readonly turn: number;
  /** Content hash of the assembled request, stored in the blob store: replay rebuilds the prompt byte for byte. */
  readonly requestHash: string;
  readonly messageCount: number;
  readonly tokens: { readonly system: number; readonly tools: number; readonly history: number; readonly total: number };
  /** How the token figures were obtained: an estimate until a tokenizer is configured. */
  readonly tokenCounting: 'estimate' | 'tokenizer';
  readonly durationMs: number;
  /** The model's context window and the share of it this request fills, when the window is known. */
  readonly windowTokens?: number;
  readonly utilization?: number;
  /**
   * Content hash (`sha256:<hex>`, as procedural memory versions prompts) of the instructions this turn used, so a
   * turn can be traced to the prompt version that produced it.
   */
  readonly instructionsHash?: string;
  /** Blob of the context plan (`keel explain`): every segment and item, its tokens, and the rule that kept or dropped it. */
  readonly planHash?: string;
}

/** Memories retrieved into a turn's context: what was asked, what came back, how long it took. */
export interface MemoryReadEvent extends EventEnvelope {
  readonly type: 'memory-read';
  readonly turn: number;
  readonly query: string;
  readonly results: readonly { readonly id: string; readonly score: number }[];
  readonly latencyMs: number;
}

/**
 * Memories the loop wrote: tool results kept in the episodic store, or insights of a reflection, each
 * citing its sources. Journaled after the write; memory ids are derived from the journal, so a resume that repeats
 * the write stores nothing twice.
 */
export interface MemoryWriteEvent extends EventEnvelope {
  readonly type: 'memory-write';
  readonly turn: number;
  readonly reason: 'tool-result' | 'reflection';
  readonly records: readonly { readonly id: string; readonly kind: string; readonly importance: number; readonly sources?: readonly string[]; readonly callId?: string }[];
  readonly latencyMs: number;
  /** Tool calls whose results could not be remembered (see `error`); they are not tried again. */
  readonly skippedCallIds?: readonly string[];
  /** Ids a reflection cited that name no memory of its scope (dropped). */
  readonly invalidCitations?: readonly string[];
  /** Set when a write or a reflection failed; the session goes on without it. */
  readonly error?: ErrorRecord;
}

/** A summary the context planner made of a range of the conversation; later turns and resumes reuse it, never remake it. */
export interface ContextSummaryEvent extends EventEnvelope {
  readonly type: 'context-summary';
  readonly turn: number;
  readonly summaryId: string;
  readonly level: number;
  /** Range of conversation message indices it replaces, [from, to). */
  readonly from: number;
  readonly to: number;
  readonly text: string;
  readonly tokens: number;
  readonly children?: readonly string[];
}

export interface ModelRequestEvent extends EventEnvelope {
  readonly type: 'model-request';
  readonly turn: number;
  readonly requestHash: string;
  readonly provider: string;
  readonly model: string;
  readonly streaming: boolean;
}

export interface ModelResponseEvent extends EventEnvelope {
  readonly type: 'model-response';
  readonly turn: number;
  readonly responseId: string;
  readonly model: string;
  readonly content: readonly ContentBlock[];
  readonly stopReason: StopReason;
  readonly providerStopReason: string;
  readonly usage: Usage;
  /** Null when the model has no price in the pricing table. */
  readonly costUsd: number | null;
  readonly latencyMs: number;
  /** Attempts that failed and were retried before this response. */
  readonly retries: number;
}

export interface ModelErrorEvent extends EventEnvelope {
  readonly type: 'model-error';
  readonly turn: number;
  readonly error: ErrorRecord;
  readonly retries: number;
  readonly latencyMs: number;
}

export interface ToolRequestEvent extends EventEnvelope {
  readonly type: 'tool-request';
  readonly turn: number;
  readonly callId: string;
  readonly tool: string;
  readonly input: unknown;
  /** Derived from (sessionId, turn, callId); the tool receives it and may deduplicate at its far end. */
  readonly idempotencyKey: string;
}

export interface ToolResultEvent extends EventEnvelope {
  readonly type: 'tool-result';
  readonly turn: number;
  readonly callId: string;
  readonly tool: string;
  readonly output: string;
  /** Set when the full output was larger than the journal keeps inline; the full text is in the blob store. */
  readonly outputBlob?: string;
  readonly latencyMs: number;
  /**
   * What the sanitizer redacted: the kind, the offset of its marker in the sanitized output (the whole output,
   * as kept in the blob when cut) and, for JSON output, the pointer of the string holding it. Never the value.
   */
  readonly redactions?: readonly { readonly type: string; readonly offset: number; readonly path?: string }[];
}

export interface ToolErrorEvent extends EventEnvelope {
  readonly type: 'tool-error';
  readonly turn: number;
  readonly callId: string;
  readonly tool: string;
  readonly error: ErrorRecord;
  readonly latencyMs: number;
}

export type ToolDecision = 'allow' | 'deny' | 'ask';

/** The pipeline's verdict on one call (validate → authorize → rate-limit → approve), with the rule that decided. */
export interface ToolDecisionEvent extends EventEnvelope {
  readonly type: 'tool-decision';
  readonly turn: number;
  readonly callId: string;
  readonly tool: string;
  readonly decision: ToolDecision;
  /** Which rule decided, for example `schema`, `scope:orders:write`, `risk:irreversible`, `rate-limit:agent`. */
  readonly rule: string;
  readonly reason: string;
  readonly risk: string;
}

/** A person's answer to an `ask`: written by `keel approve` / `keel reject`, which then resume the session. */
export interface ToolApprovalEvent extends EventEnvelope {
  readonly type: 'tool-approval';
  readonly turn: number;
  readonly callId: string;
  readonly approved: boolean;
  readonly approver: string;
  readonly reason: string | null;
  /** Arguments the approver changed; the tool runs with these instead of the model's. */
  readonly editedInput?: unknown;
}

/** Saga compensation: the undo of an earlier call, journaled before it runs. */
export interface CompensationRequestEvent extends EventEnvelope {
  readonly type: 'compensation-request';
  readonly turn: number;
  /** The call being undone. */
  readonly callId: string;
  readonly tool: string;
  readonly idempotencyKey: string;
  readonly reason: string;
  /** How the session will end once compensations are done, so that a resume mid-saga finishes the same way. */
  readonly endStatus: 'failed' | 'cancelled';
  readonly endError: ErrorRecord | null;
}

export interface CompensationResultEvent extends EventEnvelope {
  readonly type: 'compensation-result';
  readonly turn: number;
  readonly callId: string;
  readonly tool: string;
  readonly ok: boolean;
  readonly output: string | null;
  readonly error: ErrorRecord | null;
  readonly latencyMs: number;
}

export type GuardName = 'max-turns' | 'deadline' | 'input-tokens' | 'output-tokens' | 'cost' | 'identical-tool-calls';

export interface GuardTripEvent extends EventEnvelope {
  readonly type: 'guard-trip';
  readonly turn: number;
  readonly guard: GuardName;
  readonly limit: number;
  readonly actual: number;
  readonly message: string;
}

export type AnomalySignal = 'turn-count' | 'tool-error-rate' | 'repeated-tool-call' | 'context-utilization' | 'cost-over-budget';

/** An anomaly signal: journaled once per session and signal when its threshold is crossed; it does not stop the session (guards do). */
export interface AnomalyEvent extends EventEnvelope {
  readonly type: 'anomaly';
  readonly turn: number;
  readonly signal: AnomalySignal;
  readonly threshold: number;
  readonly value: number;
  readonly message: string;
}

export type SessionStatus = 'completed' | 'failed' | 'cancelled';

export interface SessionEndEvent extends EventEnvelope {
  readonly type: 'session-end';
  readonly status: SessionStatus;
  readonly output: string | null;
  readonly error: ErrorRecord | null;
  readonly turns: number;
  readonly usage: Usage;
  readonly costUsd: number | null;
}

export type SessionEvent =
  | SessionStartEvent
  | TurnStartEvent
  | ContextAssembleEvent
  | ContextSummaryEvent
  | MemoryReadEvent
  | MemoryWriteEvent
  | ModelRequestEvent
  | ModelResponseEvent
  | ModelErrorEvent
  | ToolRequestEvent
  | ToolResultEvent
  | ToolErrorEvent
  | ToolDecisionEvent
  | ToolApprovalEvent
  | CompensationRequestEvent
  | CompensationResultEvent
  | GuardTripEvent
  | AnomalyEvent
  | SessionEndEvent;

export type SessionEventType = SessionEvent['type'];

/** An event before the writer stamps its envelope. */
export type EventBody<E extends SessionEvent = SessionEvent> = E extends SessionEvent ? Omit<E, keyof EventEnvelope> : never;
