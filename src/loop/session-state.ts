import { KeelError } from '../errors/index.ts';
import { canonicalJson } from '../util/index.ts';
import { assertNever } from '../util/assert-never.ts';
import type {
  ChildEndEvent,
  ChildStartEvent,
  CompensationRequestEvent,
  CompensationResultEvent,
  ContextSummaryEvent,
  ErrorRecord,
  InjectionDetectEvent,
  ModelResponseEvent,
  QuarantinedReadEvent,
  ToolApprovalEvent,
  ToolDecisionEvent,
  SessionEndEvent,
  SessionEvent,
  SessionStartEvent,
  ToolErrorEvent,
  ToolRequestEvent,
  ToolResultEvent,
} from '../spec/events.ts';
import type { ContentBlock, Message, ToolResultBlock, ToolUseBlock } from '../spec/message.ts';
import type { Usage } from '../spec/usage.ts';
import type { UntrustedProvenance } from '../spec/provenance.ts';

export interface ToolCallState {
  readonly request: ToolRequestEvent;
  /** Null in journals written before the pipeline decided calls, and for calls not yet decided. */
  readonly decision: ToolDecisionEvent | null;
  readonly approval: ToolApprovalEvent | null;
  readonly outcome: ToolResultEvent | ToolErrorEvent | null;
}

/** A call that completed, kept for the whole session because a saga may have to undo it later. */
export interface CompletedCall {
  readonly callId: string;
  readonly tool: string;
  readonly input: unknown;
  readonly output: string;
  readonly idempotencyKey: string;
  readonly turn: number;
  /** Where the output came from, as journaled (`tool` when the event has none). */
  readonly provenance: UntrustedProvenance;
}

/**
 * A call whose effect may exist: it completed (`output` is its result), or it was in flight when the session was
 * cancelled and did not settle within the grace period (`tool-outcome-unknown`, `output` null). A saga undoes both.
 */
export interface EffectCall {
  readonly callId: string;
  readonly tool: string;
  readonly input: unknown;
  readonly output: string | null;
  readonly idempotencyKey: string;
  readonly turn: number;
  readonly outcome: 'completed' | 'unknown';
}

/** The error code of a call that may have run but whose outcome nobody knows; a resume never runs it again by itself. */
export const outcomeUnknownCode = 'tool-outcome-unknown';

/** Set once the session has decided to end badly and is running compensations before its session-end. */
export interface CompensationPhase {
  readonly status: 'failed' | 'cancelled';
  readonly error: ErrorRecord | null;
  readonly requested: ReadonlyMap<string, CompensationRequestEvent>;
  readonly results: ReadonlyMap<string, CompensationResultEvent>;
}

/** A child session this session started: `end` is null while it runs (or until a resume finds its outcome). */
export interface ChildCallState {
  readonly start: ChildStartEvent;
  readonly end: ChildEndEvent | null;
}

/** Everything the loop needs to continue, derived only from the journal. */
export interface SessionState {
  readonly sessionId: string;
  readonly start: SessionStartEvent;
  readonly lastSeq: number;
  readonly turn: number;
  readonly messages: readonly Message[];
  readonly usage: Usage;
  readonly costUsd: number | null;
  /** The response of the current turn, null while the current turn has not had one. */
  readonly response: ModelResponseEvent | null;
  /** Tool calls of the current turn by call id, in the order the model asked for them. */
  readonly toolCalls: ReadonlyMap<string, ToolCallState>;
  /** Canonical signatures of every tool call so far, for the identical-calls guard. */
  readonly callSignatures: readonly string[];
  readonly completedCalls: readonly CompletedCall[];
  /** Completed calls and calls of unknown outcome, in journal order: what a saga may have to undo. */
  readonly effectCalls: readonly EffectCall[];
  /** Calls whose results a `memory-write` recorded in the episodic store. */
  readonly rememberedCalls: ReadonlySet<string>;
  /** Summaries the context planner made, in journal order. */
  readonly summaries: readonly ContextSummaryEvent[];
  /** Child sessions (subagents, handoffs) by the call that started them. */
  readonly children: ReadonlyMap<string, ChildCallState>;
  /** Untrusted items the injection detectors flagged, in journal order: the session's taint. */
  readonly injections: readonly InjectionDetectEvent[];
  /** Quarantined reads by the tool call they ran in: a call run again on resume replays them instead of asking again. */
  readonly quarantinedReads: ReadonlyMap<string, readonly QuarantinedReadEvent[]>;
  readonly compensation: CompensationPhase | null;
  /** Continuations asked for after `max_tokens` stops, in a row. */
  readonly truncatedInARow: number;
  readonly end: SessionEndEvent | null;
}

export const zeroUsage: Usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };

export function addUsage(left: Usage, right: Usage): Usage {
  return {
    inputTokens: left.inputTokens + right.inputTokens,
    outputTokens: left.outputTokens + right.outputTokens,
    cacheReadTokens: left.cacheReadTokens + right.cacheReadTokens,
    cacheWriteTokens: left.cacheWriteTokens + right.cacheWriteTokens,
  };
}

export function callSignature(name: string, input: unknown): string {
  return `${name}:${canonicalJson(input)}`;
}

export const truncationNotice =
  'Your previous reply was cut off at the output token limit. Continue exactly where you stopped, without repeating yourself.';

type MutableState = { -readonly [Key in keyof SessionState]: SessionState[Key] };

/**
 * One fold step over a batch: the containers a batch changes are copied once, on their first change, so a batch of
 * n events costs O(n) and not O(n²) (a message with thousands of tool calls is journaled in one append).
 */
class Draft {
  private ownsToolCalls = false;
  private ownsSignatures = false;
  private ownsCompleted = false;
  private ownsEffects = false;

  readonly state: MutableState;
  constructor(state: MutableState) {
    this.state = state;
  }

  toolCalls(): Map<string, ToolCallState> {
    if (!this.ownsToolCalls) {
      this.state.toolCalls = new Map(this.state.toolCalls);
      this.ownsToolCalls = true;
    }
    return this.state.toolCalls as Map<string, ToolCallState>;
  }

  resetToolCalls(): void {
    this.state.toolCalls = new Map();
    this.ownsToolCalls = true;
  }

  callSignatures(): string[] {
    if (!this.ownsSignatures) {
      this.state.callSignatures = [...this.state.callSignatures];
      this.ownsSignatures = true;
    }
    return this.state.callSignatures as string[];
  }

  completedCalls(): CompletedCall[] {
    if (!this.ownsCompleted) {
      this.state.completedCalls = [...this.state.completedCalls];
      this.ownsCompleted = true;
    }
    return this.state.completedCalls as CompletedCall[];
  }

  effectCalls(): EffectCall[] {
    if (!this.ownsEffects) {
      this.state.effectCalls = [...this.state.effectCalls];
      this.ownsEffects = true;
    }
    return this.state.effectCalls as EffectCall[];
  }
}

export function initialState(start: SessionStartEvent): SessionState {
  return {
    sessionId: start.sessionId,
    start,
    lastSeq: start.seq,
    turn: 0,
    messages: [{ role: 'user', content: [{ type: 'text', text: start.input }] }],
    usage: zeroUsage,
    costUsd: 0,
    response: null,
    toolCalls: new Map(),
    callSignatures: [],
    completedCalls: [],
    effectCalls: [],
    rememberedCalls: new Set(),
    summaries: [],
    children: new Map(),
    injections: [],
    quarantinedReads: new Map(),
    compensation: null,
    truncatedInARow: 0,
    end: null,
  };
}

/** Applies one event. Pure: the loop calls it for what it writes, and resume for what it reads. */
export function applyEvent(current: SessionState, event: SessionEvent): SessionState {
  return applyEvents(current, [event]);
}

/** Applies a batch of events in journal order; the given state is not changed. */
export function applyEvents(current: SessionState, events: readonly SessionEvent[]): SessionState {
  const draft = new Draft({ ...current });
  for (const event of events) applyTo(draft, event);
  return draft.state;
}

function applyTo(draft: Draft, event: SessionEvent): void {
  const state = draft.state;
  if (event.seq !== state.lastSeq + 1) {
    throw new KeelError('journal-corrupt', `Session ${state.sessionId}: expected event ${state.lastSeq + 1}, found ${event.seq}.`);
  }
  state.lastSeq = event.seq;
  switch (event.type) {
    case 'session-start':
      throw new KeelError('journal-corrupt', `Session ${state.sessionId}: a second session-start at seq ${event.seq}.`);
    case 'turn-start':
      closeTurn(state);
      state.turn = event.turn;
      state.response = null;
      draft.resetToolCalls();
      break;
    case 'model-response': {
      state.response = event;
      state.usage = addUsage(state.usage, event.usage);
      state.costUsd = state.costUsd === null || event.costUsd === null ? null : state.costUsd + event.costUsd;
      state.truncatedInARow = event.stopReason === 'max_tokens' && !event.content.some((block) => block.type === 'tool_use') ? state.truncatedInARow + 1 : 0;
      break;
    }
    case 'tool-request':
      draft.toolCalls().set(event.callId, { request: event, decision: null, approval: null, outcome: null });
      draft.callSignatures().push(callSignature(event.tool, event.input));
      break;
    case 'tool-result':
    case 'tool-error':
      applyOutcome(draft, event);
      break;
    case 'tool-decision':
    case 'tool-approval': {
      const call = knownCall(state, event);
      draft.toolCalls().set(event.callId, event.type === 'tool-decision' ? { ...call, decision: event } : { ...call, approval: event });
      break;
    }
    case 'compensation-request': {
      const phase = state.compensation ?? { status: event.endStatus, error: event.endError, requested: new Map(), results: new Map() };
      state.compensation = { ...phase, requested: new Map(phase.requested).set(event.callId, event) };
      break;
    }
    case 'compensation-result': {
      const phase = state.compensation;
      if (phase === null) throw new KeelError('journal-corrupt', `Session ${state.sessionId}: compensation-result at seq ${event.seq} without a request.`);
      state.compensation = { ...phase, results: new Map(phase.results).set(event.callId, event) };
      break;
    }
    case 'session-end':
      state.end = event;
      break;
    case 'context-summary':
      state.summaries = [...state.summaries, event];
      break;
    case 'child-start':
      state.children = new Map(state.children).set(event.callId, { start: event, end: null });
      break;
    case 'child-end':
      applyChildEnd(state, event);
      break;
    case 'injection-detect':
      state.injections = [...state.injections, event];
      break;
    // A verifier's, a quarantined reader's or a tool's side model call: spending of the session, counted by its budgets.
    case 'verifier-decision':
    case 'quarantined-read':
    case 'side-call':
      if (event.usage !== null) {
        state.usage = addUsage(state.usage, event.usage);
        state.costUsd = state.costUsd === null || event.costUsd === null ? null : state.costUsd + event.costUsd;
      }
      if (event.type === 'quarantined-read' && event.callId !== null) {
        state.quarantinedReads = new Map(state.quarantinedReads).set(event.callId, [...(state.quarantinedReads.get(event.callId) ?? []), event]);
      }
      break;
    case 'memory-write':
      if (event.reason === 'tool-result') {
        const remembered = new Set(state.rememberedCalls);
        for (const record of event.records) if (record.callId !== undefined) remembered.add(record.callId);
        for (const callId of event.skippedCallIds ?? []) remembered.add(callId);
        state.rememberedCalls = remembered;
      }
      break;
    // Facts for people and telemetry: they do not change what the loop does next.
    case 'context-assemble':
    case 'memory-read':
    case 'model-request':
    case 'model-error':
    case 'guard-trip':
    case 'anomaly':
      break;
    // Workflow sessions: the agent loop does not run them; status folds still read them.
    case 'workflow-start':
    case 'step-start':
    case 'step-end':
    case 'gate':
    case 'route-decision':
    case 'parallel-join':
      break;
    // Planner sessions: their plans and steps are folded by the planner; the agent loop does not run them.
    case 'plan-proposed':
    case 'plan-invalid':
    case 'plan-approval':
    case 'plan-step-start':
    case 'plan-step-end':
    case 'plan-deviation':
    case 'replan':
      break;
    default:
      assertNever(event, (unknown) => new KeelError('journal-corrupt', `Session ${state.sessionId}: event ${state.lastSeq} has a type this Keel does not know (${JSON.stringify((unknown as { type?: unknown }).type)}).`));
  }
}

/** A child's spending counts in its parent's: the parent's usage is that of its whole subtree. */
function applyChildEnd(state: MutableState, event: ChildEndEvent): void {
  const child = state.children.get(event.callId);
  if (child === undefined) throw new KeelError('journal-corrupt', `Session ${state.sessionId}: child-end at seq ${event.seq} for call ${event.callId} without a child-start.`);
  state.children = new Map(state.children).set(event.callId, { ...child, end: event });
  state.usage = addUsage(state.usage, event.usage);
  state.costUsd = state.costUsd === null || event.costUsd === null ? null : state.costUsd + event.costUsd;
}

function knownCall(state: SessionState, event: ToolResultEvent | ToolErrorEvent | ToolDecisionEvent | ToolApprovalEvent): ToolCallState {
  const call = state.toolCalls.get(event.callId);
  if (call === undefined) {
    throw new KeelError('journal-corrupt', `Session ${state.sessionId}: ${event.type} at seq ${event.seq} for unknown call ${event.callId}.`);
  }
  return call;
}

function applyOutcome(draft: Draft, event: ToolResultEvent | ToolErrorEvent): void {
  const call = knownCall(draft.state, event);
  draft.toolCalls().set(event.callId, { ...call, outcome: event });
  // Each record written out whole: on Node 20, properties added to a spread copy take V8's slow path.
  const { callId, tool, turn } = event;
  const input = effectiveInput(call);
  const idempotencyKey = call.request.idempotencyKey;
  if (event.type === 'tool-result') {
    const output = event.output;
    draft.completedCalls().push({ callId, tool, input, idempotencyKey, turn, output, provenance: event.provenance ?? 'tool' });
    draft.effectCalls().push({ callId, tool, input, idempotencyKey, turn, output, outcome: 'completed' });
  } else if (event.error.code === outcomeUnknownCode) {
    draft.effectCalls().push({ callId, tool, input, idempotencyKey, turn, output: null, outcome: 'unknown' });
  }
}

/** Moves the finished turn into the conversation: the assistant message, then its tool results, or a continuation prompt. */
function closeTurn(state: MutableState): void {
  const response = state.response;
  if (response === null) return;
  const messages = [...state.messages, { role: 'assistant' as const, content: response.content }];
  const toolUses = response.content.filter((block): block is ToolUseBlock => block.type === 'tool_use');
  if (toolUses.length > 0) {
    const results: ContentBlock[] = toolUses.map((use) => toolResultBlock(use, state.toolCalls.get(use.id)));
    messages.push({ role: 'user', content: results });
  } else if (response.stopReason === 'max_tokens') {
    messages.push({ role: 'user', content: [{ type: 'text', text: truncationNotice }] });
  }
  // pause_turn: the assistant message is sent back as it is, and the model continues it.
  state.messages = messages;
}

/** The input a call ran with: the approver's edit when there was one, else the model's. */
export function effectiveInput(call: ToolCallState): unknown {
  return call.approval !== null && call.approval.editedInput !== undefined ? call.approval.editedInput : call.request.input;
}

/**
 * The result blocks made from each outcome event. A turn is closed twice (the loop previews the turn-start it then
 * writes), and the same block object both times lets the request path reuse what it computed per block (its trust
 * fence, its canonical JSON) instead of computing it again for a copy.
 */
const resultBlocks = new WeakMap<ToolResultEvent | ToolErrorEvent, ToolResultBlock>();

function toolResultBlock(use: ToolUseBlock, call: ToolCallState | undefined): ToolResultBlock {
  const outcome = call?.outcome ?? null;
  if (outcome === null) return { type: 'tool_result', toolUseId: use.id, content: 'The tool did not run.', isError: true };
  const made = resultBlocks.get(outcome);
  if (made !== undefined && made.toolUseId === use.id) return made;
  const block: ToolResultBlock =
    outcome.type === 'tool-result'
      ? { type: 'tool_result', toolUseId: use.id, content: outcome.output, isError: false }
      : { type: 'tool_result', toolUseId: use.id, content: `Error (${outcome.error.code}): ${outcome.error.message}`, isError: true };
  resultBlocks.set(outcome, block);
  return block;
}

export function foldEvents(events: readonly SessionEvent[]): SessionState {
  const first = events[0];
  if (first === undefined) throw new KeelError('session-not-found', 'The journal has no events for this session.');
  if (first.type !== 'session-start' || first.seq !== 1) {
    throw new KeelError('journal-corrupt', `Session ${first.sessionId}: the journal does not begin with session-start at seq 1.`);
  }
  return applyEvents(initialState(first), events.slice(1));
}
