import type { ContentBlock } from './message.ts';
import type { ModelAttemptRecord, ModelParametersRecord } from './model-call.ts';
import type { Provenance, UntrustedProvenance } from './provenance.ts';
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
    /** The agent's description and version, when its definition gives them (traced on invoke_agent). */
    readonly description?: string;
    readonly version?: string;
    /** Each tool's description as the model was told it, cut to 300 characters (traced as `gen_ai.tool.description`). */
    readonly toolDescriptions?: Readonly<Record<string, string>>;
  };
  /** `spec` is the model spec the session was started with (`anthropic:…`, `scripted:…`), so a resume uses the same model. */
  readonly model: { readonly provider: string; readonly modelId: string; readonly spec?: string };
  readonly input: string;
  readonly limits: SessionLimits;
  readonly parentSessionId?: string;
  /** The per-session random fence of untrusted content, when the agent plans its context. */
  readonly contextBoundary?: string;
  /**
   * This session's own spending budget (tokens counted input + output + cache), when it has one: the root's, or the
   * slice a parent gave its child. Ancestors' budgets bound it too; see `child-start`.
   */
  readonly budget?: SessionBudget;
}

export interface SessionBudget {
  readonly tokens: number | null;
  readonly costUsd: number | null;
}

/** How a child session came to be: a subagent called as a tool, a handoff of the conversation, or a workflow step. */
export type ChildMode = 'tool' | 'handoff' | 'step';

/**
 * Written in the parent's journal before a child session runs: the child's journal is `childSessionId`, derived from
 * the parent's id and `callId`, so a resumed parent finds the same child instead of starting a second one.
 */
export interface ChildStartEvent extends EventEnvelope {
  readonly type: 'child-start';
  /** The parent's turn (a workflow's step index). */
  readonly turn: number;
  readonly callId: string;
  readonly childSessionId: string;
  readonly agent: string;
  readonly mode: ChildMode;
  /** The slice of the parent's budget the child was given, when smaller than what the parent has left. */
  readonly budget?: SessionBudget;
}

/** Written in the parent's journal with the child's outcome; its usage and cost count in the parent's. */
export interface ChildEndEvent extends EventEnvelope {
  readonly type: 'child-end';
  readonly turn: number;
  readonly callId: string;
  readonly childSessionId: string;
  readonly status: SessionStatus;
  readonly output: string | null;
  readonly error: ErrorRecord | null;
  /** The child's whole spending, its own descendants included. */
  readonly usage: Usage;
  readonly costUsd: number | null;
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
  /** The request parameters of the call (sampling, stop sequences, seed, hosted tools, caching), when any were set. */
  readonly parameters?: ModelParametersRecord;
  /** The output-token limit of this request (`gen_ai.request.max_tokens`); absent in journals written before it was recorded. */
  readonly maxOutputTokens?: number;
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
  /** The provider account that answered, when the model is a route. */
  readonly account?: string;
  /** Every attempt of a routed call (fallback, hedge, cascade) with the reason the route moved on; absent for one plain attempt. */
  readonly attempts?: readonly ModelAttemptRecord[];
  /** Streaming: from the start of the answering attempt to its first part. */
  readonly firstTokenMs?: number;
  /** USD that prompt caching saved on this call (negative on a call that only wrote the cache). */
  readonly cacheSavingsUsd?: number;
  /** Set when the answer came from the response cache: nothing was sent to a provider, nothing billed. */
  readonly cachedResponse?: { readonly key: string };
  /** Parameters the answering provider has no field for, so they were not sent (temperature on Anthropic). */
  readonly unsentParameters?: readonly string[];
  /** Uses of provider-hosted tools, by tool; priced into `costUsd` where the price is known. */
  readonly hostedToolUse?: Readonly<Record<string, number>>;
  /** Milliseconds the call waited in the rate-limit queue before it was sent (part of `latencyMs`; absent when none). */
  readonly queueWaitMs?: number;
}

export interface ModelErrorEvent extends EventEnvelope {
  readonly type: 'model-error';
  readonly turn: number;
  readonly error: ErrorRecord;
  readonly retries: number;
  readonly latencyMs: number;
  /** Every attempt of a routed call that gave up, with the reason each moved on. */
  readonly attempts?: readonly ModelAttemptRecord[];
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
  /** Where the output came from, when a tool declared it or it is an MCP tool's (`web`, `mcp`, `subagent`, …); absent is `tool`. */
  readonly provenance?: UntrustedProvenance;
}

export interface ToolErrorEvent extends EventEnvelope {
  readonly type: 'tool-error';
  readonly turn: number;
  readonly callId: string;
  readonly tool: string;
  readonly error: ErrorRecord;
  readonly latencyMs: number;
}

/** What was done about untrusted text the injection detectors flagged (the agent's `injection.onDetect`). */
export type InjectionAction = 'neutralize' | 'flag' | 'block-result';

/** One flagged span: offsets in UTF-16 code units of the text as scanned (the original, kept in `originalBlob`). */
export interface InjectionDetectFinding {
  readonly layer: string;
  readonly rule: string;
  readonly score: number;
  readonly start: number;
  readonly end: number;
}

/**
 * Untrusted text that the injection detectors flagged as it entered the context, journaled in the same append as the
 * item itself: a resume reuses the decision and never scans again. The session's taint is the number of these events.
 */
export interface InjectionDetectEvent extends EventEnvelope {
  readonly type: 'injection-detect';
  readonly turn: number;
  /** The item scanned: `call:<callId>` for a tool result. */
  readonly item: string;
  readonly callId?: string;
  readonly tool?: string;
  readonly provenance: Provenance;
  /** The detectors' overall score, 0 to 1. */
  readonly score: number;
  /** The first findings, in text order; `findingCount` counts them all. */
  readonly findings: readonly InjectionDetectFinding[];
  readonly findingCount: number;
  readonly action: InjectionAction;
  /** The text as it arrived, kept for a person when the model's view of it was changed (`neutralize`, `block-result`). */
  readonly originalBlob?: string;
  /**
   * Whether this detection taints the session (every later write or irreversible call needs a person). False for a
   * finding of the whole-item scorers (classifier, embedding) under the policy's taint score; absent in journals written
   * before the field existed, which means true.
   */
  readonly taints?: boolean;
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

/**
 * A verifier's check of a proposed tool call (or final answer) against the user's task: a second, tool-less model call
 * that saw only trusted text (instructions, task) and the proposal, never the content the agent read. Journaled with
 * the `tool-decision` it led to; its usage and cost count in the session's.
 */
export interface VerifierDecisionEvent extends EventEnvelope {
  readonly type: 'verifier-decision';
  readonly turn: number;
  readonly subject: 'tool-call' | 'final-answer';
  readonly callId?: string;
  readonly tool?: string;
  readonly decision: ToolDecision;
  readonly reason: string;
  /** Set when the decision is the fail-closed default: the answer was not a decision, or the call failed. */
  readonly failure?: 'malformed' | 'model-error';
  readonly model: string;
  /** Null when the call failed before an answer. */
  readonly usage: Usage | null;
  readonly costUsd: number | null;
  readonly latencyMs: number;
}

/**
 * One quarantined read: a tool-less model call that extracted typed fields from untrusted content (`readUntrusted`),
 * inside a tool call (`callId`) or outside one. The fields keep their untrusted label; usage and cost count in the session's.
 */
export interface QuarantinedReadEvent extends EventEnvelope {
  readonly type: 'quarantined-read';
  readonly turn: number;
  readonly callId: string | null;
  /**
   * Which read of the call this is, from 0. A call run again on resume replays a successful read of the same content
   * from the journal instead of asking the model again. Absent in journals written before it existed.
   */
  readonly readIndex?: number;
  /** Where the content came from (`tool`, `web`, …). */
  readonly provenance: UntrustedProvenance;
  readonly model: string;
  /** Model calls made: 2 when the first answer did not match the schema and the reader asked once more. */
  readonly attempts: number;
  /** Content hash of the untrusted text, kept in the blob store. */
  readonly contentHash: string;
  readonly ok: boolean;
  /** The fields read, validated against the schema, when `ok`. */
  readonly value?: unknown;
  readonly error?: ErrorRecord;
  readonly usage: Usage;
  readonly costUsd: number | null;
  readonly latencyMs: number;
}

/**
 * One side call: a tool-less model call a tool made on the session's model during its call (`context.sample`, e.g.
 * an MCP server's `sampling/createMessage`). Its usage and cost count in the session's, and its budgets see them.
 */
export interface SideCallEvent extends EventEnvelope {
  readonly type: 'side-call';
  readonly turn: number;
  readonly callId: string;
  /** What the call was for, e.g. `mcp-sampling:<server>`. */
  readonly purpose: string;
  readonly model: string;
  readonly usage: Usage;
  readonly costUsd: number | null;
  readonly latencyMs: number;
  readonly ok: boolean;
  readonly error?: ErrorRecord;
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

/** `tokens`: a session tree's token budget (input + output + cache tokens of every session in it). */
export type GuardName = 'max-turns' | 'deadline' | 'input-tokens' | 'output-tokens' | 'cost' | 'identical-tool-calls' | 'tokens';

export interface GuardTripEvent extends EventEnvelope {
  readonly type: 'guard-trip';
  readonly turn: number;
  readonly guard: GuardName;
  readonly limit: number;
  readonly actual: number;
  readonly message: string;
  /** Set when a session tree's budget tripped: the session whose budget it was (this one or an ancestor)… */
  readonly budgetSessionId?: string;
  /** …and the session whose spending crossed it. */
  readonly spenderSessionId?: string;
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

/** What a workflow step is: a function, one model call, an agent run (a child session), or a nested workflow. */
export type WorkflowStepKind = 'function' | 'model' | 'agent' | 'chain' | 'route' | 'parallel' | 'vote';

/**
 * Opens a workflow run, right after its `session-start`. A workflow session holds no turns: its steps are journaled
 * as `step-start` / `step-end`, each named by its path in the workflow (`report/extract`, `desk/billing`).
 */
export interface WorkflowStartEvent extends EventEnvelope {
  readonly type: 'workflow-start';
  readonly workflow: string;
  readonly kind: WorkflowStepKind;
  /** Hash of the workflow's shape (steps, kinds, names): a resume with a different shape is refused. */
  readonly definitionHash: string;
  readonly input: unknown;
  /** The whole run's budget (tokens: input + output + cache); every step, and every agent step's child session, draws from it. */
  readonly budget: { readonly tokens: number | null; readonly costUsd: number | null; readonly deadlineAt: number | null };
}

/** A step began (intent, before it acts). On resume a step with a `step-end` of status `ok` is never run again. */
export interface StepStartEvent extends EventEnvelope {
  readonly type: 'step-start';
  readonly path: string;
  readonly step: string;
  readonly kind: WorkflowStepKind;
  /** 1 for the first run; a gate that sends the step back starts attempt 2, 3, … */
  readonly attempt: number;
  /** The child session an agent step runs in, fixed before it starts so a resume continues that one. */
  readonly childSessionId?: string;
}

export type StepStatus = 'ok' | 'error' | 'timeout' | 'cancelled';

/** A step's outcome: its output (a JSON value) when ok, else the error. */
export interface StepEndEvent extends EventEnvelope {
  readonly type: 'step-end';
  readonly path: string;
  readonly step: string;
  readonly attempt: number;
  readonly status: StepStatus;
  /** The output, when ok and small; larger outputs are in the blob store (`outputBlob`, their JSON text). */
  readonly output?: unknown;
  readonly outputBlob?: string;
  readonly error: ErrorRecord | null;
  readonly latencyMs: number;
  /** Model spend of this step itself (model steps, agent steps' child sessions); composite steps leave it out. */
  readonly usage?: Usage;
  readonly costUsd?: number | null;
  readonly childSessionId?: string;
}

/** A gate's verdict on a step's output: pass, send the step back (bounded retry), or stop the chain. */
export interface GateEvent extends EventEnvelope {
  readonly type: 'gate';
  readonly path: string;
  readonly gate: string;
  readonly attempt: number;
  readonly verdict: 'pass' | 'retry' | 'stop';
  readonly reason: string;
  /** The spend of a gate that asked a model. */
  readonly usage?: Usage;
  readonly costUsd?: number | null;
}

/** A router's decision: the label its classifier gave, the branch dispatched, and whether that was the fallback. */
export interface RouteDecisionEvent extends EventEnvelope {
  readonly type: 'route-decision';
  readonly path: string;
  readonly label: string;
  readonly branch: string;
  readonly confidence: number | null;
  readonly fallback: boolean;
  readonly reason: string;
}

/** How a parallel step's branches came out, and what the join made of them (the failure policy, the vote). */
export interface ParallelJoinEvent extends EventEnvelope {
  readonly type: 'parallel-join';
  readonly path: string;
  readonly policy: string;
  readonly succeeded: readonly string[];
  readonly failed: readonly { readonly branch: string; readonly status: StepStatus; readonly error: ErrorRecord | null }[];
  /** Voting: the aggregation, the winning answer's key, its votes and the dissenting branches; the judge's reason. */
  readonly vote?: { readonly method: string; readonly winner: string | null; readonly votes: number; readonly total: number; readonly dissent: readonly string[]; readonly reason: string };
  readonly proceed: boolean;
  readonly reason: string;
}

/** One step of a planner's plan, as journaled. */
export interface PlanStepRecord {
  /** Unique in its plan; a replan that keeps the id of a finished step reuses its result. */
  readonly id: string;
  readonly description: string;
  /** Steps whose outputs this one needs; it starts once they all finished. */
  readonly dependsOn: readonly string[];
  /** The tool the step expects to use, when it names one. */
  readonly tool?: string;
  /** The subagent that runs the step, when it names one; else the planning agent runs it. */
  readonly subagent?: string;
  readonly expectedOutput: string;
  readonly successCriterion: string;
  /** Set in a replanned plan to run again a step an earlier revision finished. */
  readonly rerun?: boolean;
}

/** A planner's plan: the steps form a directed acyclic graph through `dependsOn`. */
export interface PlanRecord {
  readonly goal: string;
  readonly steps: readonly PlanStepRecord[];
}

/**
 * A valid plan from the planning call. `revision` is 1 for the first plan and grows by one per replan; the spend is
 * that of the call that produced it (an invalid first answer has its own `plan-invalid`).
 */
export interface PlanProposedEvent extends EventEnvelope {
  readonly type: 'plan-proposed';
  readonly revision: number;
  readonly plan: PlanRecord;
  /** 1, or 2 when the first answer was invalid and the retry succeeded. */
  readonly attempt: number;
  /** The plan waits for a person (`plan-approval`) before any of its steps runs. */
  readonly requiresApproval: boolean;
  readonly model: string;
  readonly usage: Usage;
  readonly costUsd: number | null;
  readonly latencyMs: number;
}

/** A planning answer that failed validation; the first is retried once with the error, the second fails the session. */
export interface PlanInvalidEvent extends EventEnvelope {
  readonly type: 'plan-invalid';
  readonly revision: number;
  readonly attempt: number;
  readonly error: ErrorRecord;
  /** The model's answer (cut to 16,000 characters), shown to it again in the retry. */
  readonly answer: string;
  readonly model: string;
  readonly usage: Usage;
  readonly costUsd: number | null;
  readonly latencyMs: number;
}

/** A person's decision on a plan that waits for approval; an edited plan was validated before it was journaled. */
export interface PlanApprovalEvent extends EventEnvelope {
  readonly type: 'plan-approval';
  readonly revision: number;
  readonly decision: 'approved' | 'edited' | 'rejected';
  readonly approver: string;
  readonly reason: string | null;
  /** The plan as edited; the steps run from it instead of the proposed one. */
  readonly plan?: PlanRecord;
}

/** A plan step begins in its child session (intent, before it acts); written with the `child-start`. */
export interface PlanStepStartEvent extends EventEnvelope {
  readonly type: 'plan-step-start';
  readonly revision: number;
  readonly stepId: string;
  /** Names the child session with the plan's session id; derived from the revision and the step id. */
  readonly callId: string;
  readonly childSessionId: string;
  readonly agent: string;
}

/** A plan step's outcome and the verdict on its success criterion; written with the `child-end`. */
export interface PlanStepEndEvent extends EventEnvelope {
  readonly type: 'plan-step-end';
  readonly revision: number;
  readonly stepId: string;
  readonly callId: string;
  readonly childSessionId: string;
  readonly status: SessionStatus;
  readonly output: string | null;
  readonly error: ErrorRecord | null;
  /** Whether the output meets the step's success criterion: by the planner's predicate, a model check, or none given. */
  readonly check: {
    readonly passed: boolean;
    readonly by: 'predicate' | 'model' | 'none';
    readonly reason: string;
    /** The spend of a model check. */
    readonly usage?: Usage;
    readonly costUsd?: number | null;
  };
  readonly latencyMs: number;
}

/** A step failed or missed its success criterion: the plan no longer holds. A replan or the session's failure follows. */
export interface PlanDeviationEvent extends EventEnvelope {
  readonly type: 'plan-deviation';
  readonly revision: number;
  readonly stepId: string;
  readonly kind: 'step-failed' | 'criterion-missed';
  readonly reason: string;
}

/** The planner plans again after a deviation, told why and what is done; `plan-proposed` of `fromRevision + 1` follows. */
export interface ReplanEvent extends EventEnvelope {
  readonly type: 'replan';
  readonly fromRevision: number;
  readonly reason: string;
  /** Steps finished and passed so far: a new plan that keeps their ids reuses their results. */
  readonly completed: readonly string[];
  /** This replan's number (1 for the first) and the bound. */
  readonly replan: number;
  readonly maxReplans: number;
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
  | InjectionDetectEvent
  | ToolApprovalEvent
  | VerifierDecisionEvent
  | QuarantinedReadEvent
  | SideCallEvent
  | CompensationRequestEvent
  | CompensationResultEvent
  | GuardTripEvent
  | AnomalyEvent
  | ChildStartEvent
  | ChildEndEvent
  | WorkflowStartEvent
  | StepStartEvent
  | StepEndEvent
  | GateEvent
  | RouteDecisionEvent
  | ParallelJoinEvent
  | PlanProposedEvent
  | PlanInvalidEvent
  | PlanApprovalEvent
  | PlanStepStartEvent
  | PlanStepEndEvent
  | PlanDeviationEvent
  | ReplanEvent
  | SessionEndEvent;

export type SessionEventType = SessionEvent['type'];

/** An event before the writer stamps its envelope. */
export type EventBody<E extends SessionEvent = SessionEvent> = E extends SessionEvent ? Omit<E, keyof EventEnvelope> : never;
