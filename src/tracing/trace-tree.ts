import { ignoreNever } from '../util/assert-never.ts';
import type { ErrorRecord, GuardTripEvent, InjectionDetectEvent, QuarantinedReadEvent, SessionEvent, SideCallEvent, SessionStatus, ToolDecisionEvent, VerifierDecisionEvent } from '../spec/events.ts';
import type { ChildMode } from '../spec/events.ts';
import type { StopReason } from '../spec/stop-reason.ts';
import type { Usage } from '../spec/usage.ts';
import { buildWorkflowTrace } from './workflow-trace.ts';
import { buildPlanTrace } from './plan-trace.ts';
import type { TracePlan } from './plan-trace.ts';
import { routingOf } from './trace-routing.ts';
import type { TraceRouting } from './trace-routing.ts';
import type { TraceWorkflow } from './workflow-trace.ts';

export interface TraceModelCall {
  readonly model: string;
  readonly provider: string;
  readonly streaming: boolean;
  readonly usage: Usage | null;
  readonly latencyMs: number | null;
  readonly stopReason: StopReason | null;
  readonly retries: number;
  readonly costUsd: number | null;
  readonly error: ErrorRecord | null;
  /** Set for a side call: the verifier's check of a proposed call or answer, a quarantined read of untrusted content, or a tool's sampling call. */
  readonly role?: 'verifier' | 'quarantined-reader' | 'side-call';
  /** What the side call decided (`allow`, `ask`, `deny`) or whether the read succeeded, why, and the tool call it concerned. */
  readonly verdict?: { readonly outcome: string; readonly reason: string; readonly callId: string | null; readonly tool: string | null };
  /** A routed call: the account that answered, every attempt, first-token latency, caching and hosted tools. */
  readonly routing?: TraceRouting;
}

export interface TraceToolCall {
  readonly callId: string;
  readonly tool: string;
  readonly status: 'ok' | 'error' | 'pending';
  readonly latencyMs: number | null;
  readonly outputLength: number | null;
  readonly error: ErrorRecord | null;
  /** Set when the executor did not simply allow the call: an escalation to a person, or a denial, with its rule and reason. */
  readonly decision?: { readonly decision: 'ask' | 'deny'; readonly rule: string; readonly reason: string };
  /** Possible prompt injections found in this call's result, and what was done about them. */
  readonly injections?: readonly { readonly score: number; readonly action: string; readonly rules: readonly string[]; readonly originalBlob?: string; readonly taints: boolean }[];
}

/** A child session this one started (a subagent or a handoff): its own trace is `buildTraceTree` of its journal. */
export interface TraceChild {
  readonly callId: string;
  readonly childSessionId: string;
  readonly agent: string;
  readonly mode: ChildMode;
  readonly turn: number;
  readonly status: SessionStatus | 'running';
  /** The child's whole spending (its own children included), once it ended. */
  readonly usage: Usage | null;
  readonly costUsd: number | null;
  readonly error: ErrorRecord | null;
}

export interface TraceTurn {
  readonly turn: number;
  readonly startedAt: number;
  readonly context: { readonly messageCount: number; readonly tokens: number; readonly tokenCounting: string; readonly durationMs: number } | null;
  readonly modelCalls: readonly TraceModelCall[];
  readonly tools: readonly TraceToolCall[];
}

export interface TraceTree {
  readonly sessionId: string;
  readonly agent: string;
  readonly model: string;
  readonly status: SessionStatus | 'running';
  readonly startedAt: number;
  readonly endedAt: number | null;
  readonly durationMs: number;
  readonly turns: readonly TraceTurn[];
  readonly guardTrips: readonly Pick<GuardTripEvent, 'guard' | 'limit' | 'actual' | 'message' | 'turn'>[];
  readonly children: readonly TraceChild[];
  readonly output: string | null;
  readonly error: ErrorRecord | null;
  /** A workflow run's steps; absent for agent sessions. */
  readonly workflow?: TraceWorkflow;
  /** A planner session's plans, revisions, approvals, step runs and replans; absent for other sessions. */
  readonly plan?: TracePlan;
  readonly totals: {
    readonly turns: number;
    readonly inputTokens: number;
    readonly outputTokens: number;
    readonly cacheReadTokens: number;
    readonly cacheWriteTokens: number;
    readonly costUsd: number | null;
    readonly modelLatencyMs: number;
    /** USD that prompt caching saved over the session's calls (writes count against it). */
    readonly cacheSavingsUsd: number;
    readonly toolCalls: number;
    readonly toolErrors: number;
    readonly contextPeakTokens: number;
    /** Spending of the child sessions that ended, not included in the figures above (this session's own model calls). */
    readonly children: { readonly sessions: number; readonly inputTokens: number; readonly outputTokens: number; readonly costUsd: number | null };
  };
}

type MutableTurn = { turn: number; startedAt: number; context: TraceTurn['context']; modelCalls: TraceModelCall[]; tools: TraceToolCall[] };

/**
 * A session's trace (turns, model calls, tool calls, totals), rebuilt from nothing but the journal.
 * @example
 * ```ts
 * const tree = buildTraceTree(await keel.events(sessionId));
 * console.log(tree.totals.costUsd, tree.turns.length);
 * ```
 */
export function buildTraceTree(events: readonly SessionEvent[]): TraceTree {
  const start = events[0];
  if (start === undefined || start.type !== 'session-start') throw new Error('A trace needs a journal that begins with session-start.');
  const turns: MutableTurn[] = [];
  const guardTrips: TraceTree['guardTrips'][number][] = [];
  const children: TraceChild[] = [];
  let status: TraceTree['status'] = 'running';
  let endedAt: number | null = null;
  let output: string | null = null;
  let error: ErrorRecord | null = null;
  let lastAt = start.at;
  const current = (): MutableTurn | undefined => turns[turns.length - 1];
  const pendingModel = new Map<number, { provider: string; model: string; streaming: boolean }>();

  for (const event of events) {
    lastAt = event.at;
    switch (event.type) {
      case 'turn-start':
        turns.push({ turn: event.turn, startedAt: event.at, context: null, modelCalls: [], tools: [] });
        break;
      case 'context-assemble': {
        const turn = current();
        if (turn !== undefined) turn.context = { messageCount: event.messageCount, tokens: event.tokens.total, tokenCounting: event.tokenCounting, durationMs: event.durationMs };
        break;
      }
      case 'model-request':
        pendingModel.set(event.turn, { provider: event.provider, model: event.model, streaming: event.streaming });
        break;
      case 'model-response': {
        const request = pendingModel.get(event.turn);
        current()?.modelCalls.push({
          model: event.model,
          provider: request?.provider ?? 'unknown',
          streaming: request?.streaming ?? false,
          usage: event.usage,
          latencyMs: event.latencyMs,
          stopReason: event.stopReason,
          retries: event.retries,
          costUsd: event.costUsd,
          error: null,
          ...routingOf(event),
        });
        break;
      }
      case 'model-error': {
        const request = pendingModel.get(event.turn);
        current()?.modelCalls.push({
          model: request?.model ?? 'unknown',
          provider: request?.provider ?? 'unknown',
          streaming: request?.streaming ?? false,
          usage: null,
          latencyMs: event.latencyMs,
          stopReason: null,
          retries: event.retries,
          costUsd: null,
          error: event.error,
          ...routingOf(event),
        });
        break;
      }
      case 'tool-request':
        current()?.tools.push({ callId: event.callId, tool: event.tool, status: 'pending', latencyMs: null, outputLength: null, error: null });
        break;
      case 'tool-result':
      case 'tool-error': {
        const tools = current()?.tools;
        const index = tools?.findIndex((tool) => tool.callId === event.callId) ?? -1;
        if (tools !== undefined && index >= 0) {
          const before = tools[index];
          if (before !== undefined) {
            tools[index] =
              event.type === 'tool-result'
                ? { ...before, status: 'ok', latencyMs: event.latencyMs, outputLength: event.output.length }
                : { ...before, status: 'error', latencyMs: event.latencyMs, error: event.error };
          }
        }
        break;
      }
      case 'tool-decision':
      case 'injection-detect':
        annotateTool(current(), event);
        break;
      case 'verifier-decision':
      case 'quarantined-read':
      case 'side-call':
        current()?.modelCalls.push(sideCall(event));
        break;
      case 'child-start':
        children.push({ callId: event.callId, childSessionId: event.childSessionId, agent: event.agent, mode: event.mode, turn: event.turn, status: 'running', usage: null, costUsd: null, error: null });
        break;
      case 'child-end': {
        const index = children.findIndex((child) => child.callId === event.callId);
        const before = children[index];
        if (before !== undefined) children[index] = { ...before, status: event.status, usage: event.usage, costUsd: event.costUsd, error: event.error };
        break;
      }
      case 'guard-trip':
        guardTrips.push({ guard: event.guard, limit: event.limit, actual: event.actual, message: event.message, turn: event.turn });
        break;
      case 'session-end':
        status = event.status;
        endedAt = event.at;
        output = event.output;
        error = event.error;
        break;
      case 'session-start':
      case 'context-summary':
      case 'memory-read':
      case 'memory-write':
      case 'tool-approval':
      case 'compensation-request':
      case 'compensation-result':
      case 'anomaly':
        break;
      // Workflow steps: buildWorkflowTrace reads them below.
      case 'workflow-start':
      case 'step-start':
      case 'step-end':
      case 'gate':
      case 'route-decision':
      case 'parallel-join':
        break;
      // Planner sessions: buildPlanTrace reads them below.
      case 'plan-proposed':
      case 'plan-invalid':
      case 'plan-approval':
      case 'plan-step-start':
      case 'plan-step-end':
      case 'plan-deviation':
      case 'replan':
        break;
      default:
        ignoreNever(event);
        break;
    }
  }

  let inputTokens = 0;
  let outputTokens = 0;
  let cacheReadTokens = 0;
  let cacheWriteTokens = 0;
  let costUsd: number | null = 0;
  let modelLatencyMs = 0;
  let cacheSavingsUsd = 0;
  let toolCalls = 0;
  let toolErrors = 0;
  let contextPeakTokens = 0;
  for (const turn of turns) {
    contextPeakTokens = Math.max(contextPeakTokens, turn.context?.tokens ?? 0);
    for (const call of turn.modelCalls) {
      inputTokens += call.usage?.inputTokens ?? 0;
      outputTokens += call.usage?.outputTokens ?? 0;
      cacheReadTokens += call.usage?.cacheReadTokens ?? 0;
      cacheWriteTokens += call.usage?.cacheWriteTokens ?? 0;
      modelLatencyMs += call.latencyMs ?? 0;
      cacheSavingsUsd += call.routing?.cacheSavingsUsd ?? 0;
      if (call.usage !== null) costUsd = costUsd === null || call.costUsd === null ? null : costUsd + call.costUsd;
    }
    toolCalls += turn.tools.length;
    toolErrors += turn.tools.filter((tool) => tool.status === 'error').length;
  }

  const workflow = buildWorkflowTrace(events);
  if (workflow !== undefined) {
    inputTokens += workflow.usage.inputTokens;
    outputTokens += workflow.usage.outputTokens;
    cacheReadTokens += workflow.usage.cacheReadTokens;
    cacheWriteTokens += workflow.usage.cacheWriteTokens;
    costUsd = costUsd === null || workflow.costUsd === null ? null : costUsd + workflow.costUsd;
  }
  // A planner's own calls (plans and model checks); its steps' spend is their child sessions'.
  const plan = buildPlanTrace(events);
  if (plan !== undefined) {
    inputTokens += plan.usage.inputTokens;
    outputTokens += plan.usage.outputTokens;
    cacheReadTokens += plan.usage.cacheReadTokens;
    cacheWriteTokens += plan.usage.cacheWriteTokens;
    costUsd = costUsd === null || plan.costUsd === null ? null : costUsd + plan.costUsd;
  }

  return {
    sessionId: start.sessionId,
    agent: start.agent.name,
    model: start.model.spec ?? `${start.model.provider}:${start.model.modelId}`,
    status,
    startedAt: start.at,
    endedAt,
    durationMs: (endedAt ?? lastAt) - start.at,
    turns,
    guardTrips,
    children,
    output,
    error,
    ...(workflow === undefined ? {} : { workflow }),
    ...(plan === undefined ? {} : { plan }),
    totals: { turns: turns.length, inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens, costUsd, modelLatencyMs, cacheSavingsUsd: Math.round(cacheSavingsUsd * 1e8) / 1e8, toolCalls, toolErrors, contextPeakTokens, children: childTotals(children) },
  };
}

function childTotals(children: readonly TraceChild[]): TraceTree['totals']['children'] {
  let inputTokens = 0;
  let outputTokens = 0;
  let costUsd: number | null = 0;
  for (const child of children) {
    if (child.usage === null) continue;
    inputTokens += child.usage.inputTokens + child.usage.cacheReadTokens + child.usage.cacheWriteTokens;
    outputTokens += child.usage.outputTokens;
    costUsd = costUsd === null || child.costUsd === null ? null : costUsd + child.costUsd;
  }
  return { sessions: children.length, inputTokens, outputTokens, costUsd };
}


/** A verifier's, quarantined reader's or tool's side call, shown with the turn's model calls and counted in the totals. */
function sideCall(event: VerifierDecisionEvent | QuarantinedReadEvent | SideCallEvent): TraceModelCall {
  const base = { model: event.model, provider: 'side', streaming: false, usage: event.usage, latencyMs: event.latencyMs, stopReason: null, retries: 0, costUsd: event.costUsd };
  if (event.type === 'side-call') {
    const reason = event.ok ? event.purpose : `${event.purpose}: ${event.error?.message ?? 'the call failed'}`;
    return { ...base, error: event.ok ? null : (event.error ?? null), role: 'side-call', verdict: { outcome: event.ok ? 'answered' : 'failed', reason, callId: event.callId, tool: null } };
  }
  if (event.type === 'verifier-decision') {
    const failed = event.failure === 'model-error';
    return {
      ...base,
      error: failed ? { code: 'verifier-unavailable', message: event.reason, fault: 'model', retryable: true } : null,
      role: 'verifier',
      verdict: { outcome: event.decision, reason: event.reason, callId: event.callId ?? null, tool: event.tool ?? null },
    };
  }
  const reason = event.ok ? `${event.attempts} attempt(s), fields read from ${event.provenance} content` : (event.error?.message ?? 'the read failed');
  return { ...base, error: event.ok ? null : (event.error ?? null), role: 'quarantined-reader', verdict: { outcome: event.ok ? 'read' : 'failed', reason, callId: event.callId, tool: null } };
}

/** Adds a non-allow decision or an injection finding to the call it is about. */
function annotateTool(turn: MutableTurn | undefined, event: ToolDecisionEvent | InjectionDetectEvent): void {
  const index = turn?.tools.findIndex((tool) => tool.callId === event.callId) ?? -1;
  const before = turn?.tools[index];
  if (turn === undefined || before === undefined) return;
  if (event.type === 'tool-decision') {
    if (event.decision !== 'allow') turn.tools[index] = { ...before, decision: { decision: event.decision, rule: event.rule, reason: event.reason } };
    return;
  }
  const finding = { score: event.score, action: event.action, rules: [...new Set(event.findings.map((each) => `${each.layer}:${each.rule}`))], ...(event.originalBlob === undefined ? {} : { originalBlob: event.originalBlob }), taints: event.taints !== false };
  turn.tools[index] = { ...before, injections: [...(before.injections ?? []), finding] };
}
