import { ignoreNever } from '../util/assert-never.ts';
import type { ErrorRecord, GuardTripEvent, SessionEvent, SessionStatus } from '../spec/events.ts';
import type { StopReason } from '../spec/stop-reason.ts';
import type { Usage } from '../spec/usage.ts';

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
}

export interface TraceToolCall {
  readonly callId: string;
  readonly tool: string;
  readonly status: 'ok' | 'error' | 'pending';
  readonly latencyMs: number | null;
  readonly outputLength: number | null;
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
  readonly output: string | null;
  readonly error: ErrorRecord | null;
  readonly totals: {
    readonly turns: number;
    readonly inputTokens: number;
    readonly outputTokens: number;
    readonly cacheReadTokens: number;
    readonly cacheWriteTokens: number;
    readonly costUsd: number | null;
    readonly modelLatencyMs: number;
    readonly toolCalls: number;
    readonly toolErrors: number;
    readonly contextPeakTokens: number;
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
      case 'tool-decision':
      case 'tool-approval':
      case 'compensation-request':
      case 'compensation-result':
      case 'anomaly':
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
      if (call.usage !== null) costUsd = costUsd === null || call.costUsd === null ? null : costUsd + call.costUsd;
    }
    toolCalls += turn.tools.length;
    toolErrors += turn.tools.filter((tool) => tool.status === 'error').length;
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
    output,
    error,
    totals: { turns: turns.length, inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens, costUsd, modelLatencyMs, toolCalls, toolErrors, contextPeakTokens },
  };
}
