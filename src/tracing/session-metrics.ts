import { ignoreNever } from '../util/assert-never.ts';
import type { AnomalySignal, GuardName, SessionEvent, SessionStatus } from '../spec/events.ts';
import { conventionInputTokens } from './journal-spans.ts';

/** Per-turn metrics, from the journal alone. */
export interface TurnMetrics {
  readonly sessionId: string;
  readonly turn: number;
  /** Input tokens as the GenAI conventions count them: cached tokens included. */
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadTokens: number;
  readonly cacheWriteTokens: number;
  readonly modelCalls: number;
  readonly modelErrors: number;
  /** Sum of the turn's model-call latencies. */
  readonly llmLatencyMs: number;
  readonly toolCalls: number;
  readonly toolErrors: number;
  /** toolErrors / toolCalls with an outcome; null without tool outcomes. */
  readonly toolErrorRate: number | null;
  readonly contextTokens: number | null;
  /** From context-assemble `utilization`; null when the window is unknown. */
  readonly contextUtilization: number | null;
  /** Null when any model call of the turn had no price. */
  readonly costUsd: number | null;
  readonly startedAt: number;
  readonly endedAt: number;
}

/** `goal_completion_status`: a failure caused by the deadline counts as a timeout. */
export type CompletionStatus = 'success' | 'failure' | 'timeout' | 'cancelled' | 'running';

/** Per-session metrics. */
export interface SessionMetrics {
  readonly sessionId: string;
  readonly parentSessionId: string | null;
  readonly agent: string;
  readonly provider: string;
  readonly model: string;
  readonly status: SessionStatus | 'running';
  readonly completion: CompletionStatus;
  readonly totalTurns: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly cacheReadTokens: number;
  readonly cacheWriteTokens: number;
  /** inputTokens + outputTokens. */
  readonly totalTokens: number;
  readonly costUsd: number | null;
  readonly durationMs: number;
  readonly llmLatencyMs: number;
  readonly modelCalls: number;
  readonly toolCalls: number;
  readonly toolErrors: number;
  readonly toolErrorRate: number | null;
  /** Distinct tools called. */
  readonly distinctTools: number;
  /** The agent's tools, from session-start. */
  readonly availableTools: number;
  /** `tool_call_diversity`: distinct tools / tool calls (1 = every call a different tool); null without calls. */
  readonly toolDiversity: number | null;
  /** Distinct tools / available tools; null when the agent has no tools. */
  readonly toolCoverage: number | null;
  readonly contextPeakTokens: number;
  readonly contextPeakUtilization: number | null;
  readonly anomalies: readonly AnomalySignal[];
  readonly guardTrips: readonly GuardName[];
  readonly turns: readonly TurnMetrics[];
}

interface MutableTurn {
  turn: number;
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  modelCalls: number;
  modelErrors: number;
  llmLatencyMs: number;
  toolCalls: number;
  toolOutcomes: number;
  toolErrors: number;
  contextTokens: number | null;
  contextUtilization: number | null;
  costUsd: number | null;
  startedAt: number;
}

function ratio(part: number, whole: number): number | null {
  return whole === 0 ? null : part / whole;
}

/**
 * The fold behind the metrics: push events in journal order; it reports each turn when the next turn starts or
 * the session ends, and the session when it ends. The same fold serves live updates and stored journals.
 */
export class SessionMetricsFold {
  readonly sessionId: string;
  private start: Extract<SessionEvent, { type: 'session-start' }> | null = null;
  private current: MutableTurn | null = null;
  private readonly turns: TurnMetrics[] = [];
  private readonly toolNames = new Set<string>();
  private readonly anomalies: AnomalySignal[] = [];
  private readonly guardTrips: GuardName[] = [];
  private status: SessionStatus | 'running' = 'running';
  private deadlineFailure = false;
  private endedAt: number | null = null;
  private lastAt = 0;
  private costUsd: number | null = 0;
  private toolOutcomes = 0;

  constructor(sessionId: string) {
    this.sessionId = sessionId;
  }

  get ended(): boolean {
    return this.endedAt !== null;
  }

  /** Applies one event; returns the turn it ended, if any, and the session metrics when it is session-end. */
  push(event: SessionEvent): { readonly turn: TurnMetrics | null; readonly session: SessionMetrics | null } {
    let endedTurn: TurnMetrics | null = null;
    if (this.endedAt !== null) return { turn: null, session: null };
    this.lastAt = Math.max(this.lastAt, event.at);
    const turn = this.current;
    switch (event.type) {
      case 'session-start':
        this.start = event;
        this.lastAt = event.at;
        break;
      case 'turn-start':
        endedTurn = this.closeTurn(event.at);
        this.current = {
          turn: event.turn,
          inputTokens: 0,
          outputTokens: 0,
          cacheReadTokens: 0,
          cacheWriteTokens: 0,
          modelCalls: 0,
          modelErrors: 0,
          llmLatencyMs: 0,
          toolCalls: 0,
          toolOutcomes: 0,
          toolErrors: 0,
          contextTokens: null,
          contextUtilization: null,
          costUsd: 0,
          startedAt: event.at,
        };
        break;
      case 'context-assemble':
        if (turn !== null) {
          turn.contextTokens = event.tokens.total;
          turn.contextUtilization = event.utilization ?? null;
        }
        break;
      case 'model-response':
        this.costUsd = this.costUsd === null || event.costUsd === null ? null : this.costUsd + event.costUsd;
        if (turn !== null) {
          turn.inputTokens += conventionInputTokens(event.usage);
          turn.outputTokens += event.usage.outputTokens;
          turn.cacheReadTokens += event.usage.cacheReadTokens;
          turn.cacheWriteTokens += event.usage.cacheWriteTokens;
          turn.modelCalls += 1;
          turn.llmLatencyMs += event.latencyMs;
          turn.costUsd = turn.costUsd === null || event.costUsd === null ? null : turn.costUsd + event.costUsd;
        }
        break;
      // A verifier's, a quarantined reader's and a tool's side calls: their tokens and cost are the session's, not the agent's model calls.
      case 'verifier-decision':
      case 'quarantined-read':
      case 'side-call':
        if (event.usage === null) break;
        this.costUsd = this.costUsd === null || event.costUsd === null ? null : this.costUsd + event.costUsd;
        if (turn !== null) {
          turn.inputTokens += conventionInputTokens(event.usage);
          turn.outputTokens += event.usage.outputTokens;
          turn.costUsd = turn.costUsd === null || event.costUsd === null ? null : turn.costUsd + event.costUsd;
        }
        break;
      case 'model-error':
        if (turn !== null) {
          turn.modelCalls += 1;
          turn.modelErrors += 1;
          turn.llmLatencyMs += event.latencyMs;
        }
        break;
      case 'tool-request':
        this.toolNames.add(event.tool);
        if (turn !== null) turn.toolCalls += 1;
        break;
      case 'tool-result':
      case 'tool-error':
        this.toolOutcomes += 1;
        if (turn !== null) {
          turn.toolOutcomes += 1;
          if (event.type === 'tool-error') turn.toolErrors += 1;
        }
        break;
      case 'child-start':
      case 'child-end':
        break;
      case 'anomaly':
        if (!this.anomalies.includes(event.signal)) this.anomalies.push(event.signal);
        break;
      case 'guard-trip':
        this.guardTrips.push(event.guard);
        if (event.guard === 'deadline') this.deadlineFailure = true;
        break;
      case 'session-end':
        endedTurn = this.closeTurn(event.at);
        this.status = event.status;
        this.endedAt = event.at;
        if (event.error?.code === 'deadline-exceeded') this.deadlineFailure = true;
        return { turn: endedTurn, session: this.snapshot() };
      case 'context-summary':
      case 'memory-read':
      case 'memory-write':
      case 'model-request':
      case 'tool-decision':
      case 'injection-detect':
      case 'tool-approval':
      case 'compensation-request':
      case 'compensation-result':
        break;
      // Workflow steps hold no turns, model calls of the loop or tool calls.
      case 'workflow-start':
      case 'step-start':
      case 'step-end':
      case 'gate':
      case 'route-decision':
      case 'parallel-join':
        break;
      // Planner events hold no turns; their spend is in session-end.
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
    return { turn: endedTurn, session: null };
  }

  /** The metrics so far; a session without session-end is `running`, its open turn included up to the last event. */
  snapshot(): SessionMetrics {
    const start = this.start;
    const turns = [...this.turns];
    if (this.endedAt === null && this.current !== null) turns.push(this.freezeTurn(this.current, this.lastAt));
    const sum = (pick: (turn: TurnMetrics) => number): number => turns.reduce((total, turn) => total + pick(turn), 0);
    const toolCalls = sum((turn) => turn.toolCalls);
    const toolErrors = sum((turn) => turn.toolErrors);
    const inputTokens = sum((turn) => turn.inputTokens);
    const outputTokens = sum((turn) => turn.outputTokens);
    const utilizations = turns.map((turn) => turn.contextUtilization).filter((value): value is number => value !== null);
    const availableTools = start?.agent.tools.length ?? 0;
    const completion: CompletionStatus =
      this.status === 'running' ? 'running' : this.status === 'completed' ? 'success' : this.status === 'cancelled' ? 'cancelled' : this.deadlineFailure ? 'timeout' : 'failure';
    return {
      sessionId: this.sessionId,
      parentSessionId: start?.parentSessionId ?? null,
      agent: start?.agent.name ?? 'unknown',
      provider: start?.model.provider ?? 'unknown',
      model: start?.model.modelId ?? 'unknown',
      status: this.status,
      completion,
      totalTurns: turns.length,
      inputTokens,
      outputTokens,
      cacheReadTokens: sum((turn) => turn.cacheReadTokens),
      cacheWriteTokens: sum((turn) => turn.cacheWriteTokens),
      totalTokens: inputTokens + outputTokens,
      costUsd: this.costUsd,
      durationMs: (this.endedAt ?? this.lastAt) - (start?.at ?? this.lastAt),
      llmLatencyMs: sum((turn) => turn.llmLatencyMs),
      modelCalls: sum((turn) => turn.modelCalls),
      toolCalls,
      toolErrors,
      toolErrorRate: ratio(toolErrors, this.toolOutcomes),
      distinctTools: this.toolNames.size,
      availableTools,
      toolDiversity: ratio(this.toolNames.size, toolCalls),
      toolCoverage: ratio(this.toolNames.size, availableTools),
      contextPeakTokens: turns.reduce((peak, turn) => Math.max(peak, turn.contextTokens ?? 0), 0),
      contextPeakUtilization: utilizations.length === 0 ? null : Math.max(...utilizations),
      anomalies: [...this.anomalies],
      guardTrips: [...this.guardTrips],
      turns,
    };
  }

  private freezeTurn(turn: MutableTurn, endedAt: number): TurnMetrics {
    return {
      sessionId: this.sessionId,
      turn: turn.turn,
      inputTokens: turn.inputTokens,
      outputTokens: turn.outputTokens,
      cacheReadTokens: turn.cacheReadTokens,
      cacheWriteTokens: turn.cacheWriteTokens,
      modelCalls: turn.modelCalls,
      modelErrors: turn.modelErrors,
      llmLatencyMs: turn.llmLatencyMs,
      toolCalls: turn.toolCalls,
      toolErrors: turn.toolErrors,
      toolErrorRate: ratio(turn.toolErrors, turn.toolOutcomes),
      contextTokens: turn.contextTokens,
      contextUtilization: turn.contextUtilization,
      costUsd: turn.costUsd,
      startedAt: turn.startedAt,
      endedAt,
    };
  }

  private closeTurn(at: number): TurnMetrics | null {
    if (this.current === null) return null;
    const frozen = this.freezeTurn(this.current, at);
    this.turns.push(frozen);
    this.current = null;
    return frozen;
  }
}

/** The metrics of one session's journal (events of other sessions are ignored). */
export function computeSessionMetrics(events: readonly SessionEvent[]): SessionMetrics {
  const first = events[0];
  if (first === undefined) throw new Error('Metrics need at least one event.');
  const fold = new SessionMetricsFold(first.sessionId);
  for (const event of events) if (event.sessionId === first.sessionId) fold.push(event);
  return fold.snapshot();
}
