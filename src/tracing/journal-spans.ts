import { canonicalJson, mapJsonStrings, sha256 } from '../util/index.ts';
import { ignoreNever } from '../util/assert-never.ts';
import { planSpanEvent } from './plan-spans.ts';
import type { ContentBlock } from '../spec/message.ts';
import type { ErrorRecord, MemoryReadEvent, SessionEvent, SessionStartEvent } from '../spec/events.ts';

/**
 * The journal as a tree of spans named and attributed by the OpenTelemetry GenAI semantic
 * conventions (wire/otel-genai.md, v1.41.0 names). Pure and deterministic: span ids are hashes of
 * (sessionId, seq), the trace id is a hash of the root session id, and every time is an event's `at`
 * (minus a journaled duration or latency), so spans built live, event by event, equal spans rebuilt later
 * from a stored journal, ids included.
 *
 *   invoke_agent <agent>                 INTERNAL   session-start … session-end
 *   ├── agent_turn                       INTERNAL   turn-start … next turn-start | session-end
 *   │   ├── context_assembly             INTERNAL   context-assemble (at − durationMs … at)
 *   │   ├── chat <model>                 CLIENT     model-request … model-response | model-error
 *   │   ├── execute_tool <tool>          INTERNAL   tool-request … tool-result | tool-error (decision, approval: span events)
 *   │   │   └── invoke_agent <subagent>  INTERNAL   a session whose session-start names this one as parent
 *   │   └── compensate <tool>            INTERNAL   compensation-request … compensation-result
 *   └── (guard trips and anomalies: events and attributes of invoke_agent)
 *
 * The journal has no memory-read or vector-search events yet; when it does, they map to `search_memory` and
 * `retrieval {data_source}` spans under context_assembly.
 */

export type SpanAttributeValue = string | number | boolean | readonly string[] | readonly number[] | readonly boolean[];
export type SpanAttributes = Readonly<Record<string, SpanAttributeValue>>;

export interface SpanEventModel {
  readonly name: string;
  readonly timeMs: number;
  readonly attributes: SpanAttributes;
}

export interface SpanModel {
  /** 32 lower-case hex digits: `traceIdFor(rootSessionId)`. */
  readonly traceId: string;
  /** 16 lower-case hex digits: `spanIdFor(sessionId, seq)` of the event that opened the span. */
  readonly spanId: string;
  readonly parentSpanId: string | null;
  readonly name: string;
  readonly kind: 'internal' | 'client';
  /** Epoch milliseconds, possibly fractional (a journaled duration subtracted from an `at`). */
  readonly startTimeMs: number;
  readonly endTimeMs: number;
  readonly attributes: SpanAttributes;
  readonly events: readonly SpanEventModel[];
  /** Instrumentations leave success unset and mark failures as errors (OpenTelemetry's guidance). */
  readonly status: { readonly code: 'unset' | 'error'; readonly message?: string };
  readonly sessionId: string;
  /** The journal position of the event that opened the span. */
  readonly seq: number;
  /** Closed by `closeOpen()` rather than by its own ending event (a crash, a suspended session). */
  readonly incomplete: boolean;
}

/** What content may leave the process as span attributes. Everything is off by default. */
export interface SpanContentPolicy {
  /** `gen_ai.tool.call.arguments` on execute_tool spans. */
  readonly includeToolInput?: boolean;
  /** `gen_ai.tool.call.result` on execute_tool spans. */
  readonly includeToolOutput?: boolean;
  /** `gen_ai.input.messages` (the session's input) and `gen_ai.output.messages` (model responses, the session's output). */
  readonly includeMessageContent?: boolean;
  /** Content attributes longer than this are cut, with a marker. Default 8,192 characters. */
  readonly maxContentLength?: number;
  /** Applied to every content attribute before it leaves the process (Keel's PII redactor, from the runtime). */
  readonly redact?: (text: string) => string;
}

export interface ResolvedContentPolicy {
  readonly includeToolInput: boolean;
  readonly includeToolOutput: boolean;
  readonly includeMessageContent: boolean;
  readonly maxContentLength: number;
  readonly redact?: (text: string) => string;
}

export function resolveContentPolicy(policy: SpanContentPolicy = {}): ResolvedContentPolicy {
  return {
    includeToolInput: policy.includeToolInput ?? false,
    includeToolOutput: policy.includeToolOutput ?? false,
    includeMessageContent: policy.includeMessageContent ?? false,
    maxContentLength: policy.maxContentLength ?? 8192,
    ...(policy.redact === undefined ? {} : { redact: policy.redact }),
  };
}

/** Where a subagent's spans hang: the trace of its root session and the span that is its parent. */
export interface ParentContext {
  readonly traceId: string;
  readonly parentSpanId: string;
  /** The root session of the trace, when known; subagents of this subagent inherit it. */
  readonly rootSessionId?: string;
}

export interface SpanBuilderOptions {
  readonly policy?: SpanContentPolicy;
  /**
   * Overrides where a session with `parentSessionId` hangs. Return undefined to use the default: the parent's
   * execute_tool span that was running when the subagent started (else its turn, else its invoke_agent span);
   * when the parent's events were never seen, the parent's invoke_agent span, `spanIdFor(parentSessionId, 1)`,
   * in the trace `traceIdFor(parentSessionId)`.
   */
  readonly resolveParent?: (start: SessionStartEvent) => ParentContext | undefined;
  /**
   * Ended sessions are kept in a compact form (what a late subagent needs to find its parent) up to this many,
   * oldest forgotten first, so a long-lived tracer does not grow without bound. Default 10,000.
   */
  readonly maxEndedSessions?: number;
  /**
   * The endpoint a model provider was reached at (`server.address`, `server.port` on chat spans), from the session's
   * provider and model spec; undefined when it is not known (a model object passed in directly, a scripted model).
   */
  readonly modelEndpoint?: (provider: string, spec: string | undefined) => { readonly address: string; readonly port: number } | undefined;
}

const zeroSpanId = '0000000000000000';

/** The span id of the span opened by event `seq` of a session: 8 bytes of SHA-256, hex. */
export function spanIdFor(sessionId: string, seq: number): string {
  const id = sha256(`keel-span\u0000${sessionId}\u0000${seq}`).slice(0, 16);
  return id === zeroSpanId ? '0000000000000001' : id;
}

/** The trace id of a session tree: 16 bytes of SHA-256 of the root session id, hex. */
export function traceIdFor(rootSessionId: string): string {
  const id = sha256(`keel-trace\u0000${rootSessionId}`).slice(0, 32);
  return /^0+$/.test(id) ? '00000000000000000000000000000001' : id;
}

interface MutableSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  name: string;
  kind: 'internal' | 'client';
  startTimeMs: number;
  endTimeMs: number;
  attributes: Record<string, SpanAttributeValue>;
  events: SpanEventModel[];
  status: { code: 'unset' | 'error'; message?: string };
  sessionId: string;
  seq: number;
}

interface ToolCallIndexEntry {
  readonly seq: number;
  readonly at: number;
  readonly tool: string;
  readonly spanId: string;
  outcomeAt: number | null;
}

interface TurnTotals {
  inputTokens: number;
  outputTokens: number;
  modelCalls: number;
  toolCalls: number;
  toolErrors: number;
  costUsd: number | null;
}

interface SessionTrack {
  readonly sessionId: string;
  readonly traceId: string;
  readonly rootSessionId: string;
  readonly root: MutableSpan;
  turn: MutableSpan | null;
  turnNumber: number;
  turnTotals: TurnTotals;
  model: MutableSpan | null;
  readonly tools: Map<string, MutableSpan>;
  readonly toolInputs: Map<string, unknown>;
  readonly compensations: Map<string, MutableSpan>;
  readonly toolIndex: ToolCallIndexEntry[];
  readonly toolIndexBySpan: Map<string, ToolCallIndexEntry>;
  readonly turnIndex: { readonly at: number; readonly spanId: string }[];
  readonly anomalies: string[];
  readonly toolDescriptions: Readonly<Record<string, string>>;
  readonly modelSpec: string | undefined;
  /** Memory reads journaled before the context assembly they belong to. */
  readonly memoryReads: MemoryReadEvent[];
  lastFinishReason: string | null;
  lastAt: number;
  ended: boolean;
}

function freshTotals(): TurnTotals {
  return { inputTokens: 0, outputTokens: 0, modelCalls: 0, toolCalls: 0, toolErrors: 0, costUsd: 0 };
}

function freeze(span: MutableSpan, incomplete: boolean): SpanModel {
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: span.parentSpanId,
    name: span.name,
    kind: span.kind,
    startTimeMs: span.startTimeMs,
    endTimeMs: Math.max(span.startTimeMs, span.endTimeMs),
    attributes: incomplete ? { ...span.attributes, 'keel.span.incomplete': true } : { ...span.attributes },
    events: [...span.events],
    status: span.status.message === undefined ? { code: span.status.code } : { code: span.status.code, message: span.status.message },
    sessionId: span.sessionId,
    seq: span.seq,
    incomplete,
  };
}

function markError(span: MutableSpan, error: ErrorRecord): void {
  span.attributes['error.type'] = error.code;
  span.attributes['keel.error.fault'] = error.fault;
  span.attributes['keel.error.retryable'] = error.retryable;
  span.status = { code: 'error', message: error.message };
}

/** Input tokens as the conventions count them: cached tokens included (Keel's `Usage.inputTokens` excludes them). */
export function conventionInputTokens(usage: { readonly inputTokens: number; readonly cacheReadTokens: number; readonly cacheWriteTokens: number }): number {
  return usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens;
}

function outputParts(content: readonly ContentBlock[]): unknown[] {
  return content.map((block) => {
    switch (block.type) {
      case 'text':
        return { type: 'text', content: block.text };
      case 'tool_use':
        return { type: 'tool_call', id: block.id, name: block.name, arguments: block.input };
      case 'tool_result':
        return { type: 'tool_call_response', id: block.toolUseId, response: block.content };
      case 'thinking':
        return { type: 'reasoning', content: block.thinking };
      case 'hosted_tool':
        // A tool the provider ran inside its answer: the call, then its result.
        return block.kind === 'server_tool_use'
          ? { type: 'server_tool_call', id: block.id, name: block.name, arguments: block.data.input }
          : { type: 'server_tool_call_response', id: block.id, response: block.data.content ?? block.data };
    }
  });
}

/**
 * The incremental mapping: feed events in journal order (sessions may interleave; a parent's events before its
 * subagents' where possible) and collect the spans each event ends. The same builder serves the live tracer and
 * the rebuild from a stored journal, which is why both give the same tree.
 */
export class JournalSpanBuilder {
  private readonly policy: ResolvedContentPolicy;
  private readonly resolveParentOverride: SpanBuilderOptions['resolveParent'];
  private readonly sessions = new Map<string, SessionTrack>();
  private readonly endedSessions: string[] = [];
  private readonly maxEndedSessions: number;
  private readonly modelEndpoint: SpanBuilderOptions['modelEndpoint'];

  constructor(options: SpanBuilderOptions = {}) {
    this.modelEndpoint = options.modelEndpoint;
    this.policy = resolveContentPolicy(options.policy);
    this.resolveParentOverride = options.resolveParent;
    this.maxEndedSessions = options.maxEndedSessions ?? 10_000;
  }

  /** Applies one event; returns the spans it ended (possibly none), children before parents. */
  push(event: SessionEvent): SpanModel[] {
    const ended: SpanModel[] = [];
    if (event.type === 'session-start') {
      if (!this.sessions.has(event.sessionId)) this.start(event);
      return ended;
    }
    const track = this.sessions.get(event.sessionId);
    if (track === undefined || track.ended) return ended;
    track.lastAt = Math.max(track.lastAt, event.at);
    const attributes = (span: MutableSpan): Record<string, SpanAttributeValue> => span.attributes;

    switch (event.type) {
      case 'turn-start': {
        this.closeTurn(track, event.at, ended);
        const span = this.open(track, event.seq, 'agent_turn', 'internal', event.at, track.root.spanId);
        attributes(span)['keel.turn.number'] = event.turn;
        track.turn = span;
        track.turnNumber = event.turn;
        track.turnTotals = freshTotals();
        track.turnIndex.push({ at: event.at, spanId: span.spanId });
        break;
      }
      case 'context-assemble': {
        const parent = track.turn ?? track.root;
        const span = this.open(track, event.seq, 'context_assembly', 'internal', Math.max(parent.startTimeMs, event.at - event.durationMs), parent.spanId);
        const a = attributes(span);
        a['keel.turn.number'] = event.turn;
        a['keel.context.message_count'] = event.messageCount;
        a['keel.context.tokens.system'] = event.tokens.system;
        a['keel.context.tokens.tools'] = event.tokens.tools;
        a['keel.context.tokens.history'] = event.tokens.history;
        a['keel.context.tokens.total'] = event.tokens.total;
        a['keel.context.token_counting'] = event.tokenCounting;
        a['keel.context.request_hash'] = event.requestHash;
        a['keel.context.duration_ms'] = event.durationMs;
        if (event.windowTokens !== undefined) a['keel.context.window_tokens'] = event.windowTokens;
        if (event.utilization !== undefined) a['keel.context.utilization'] = event.utilization;
        if (track.turn !== null) {
          track.turn.attributes['keel.context.tokens.total'] = event.tokens.total;
          if (event.utilization !== undefined) track.turn.attributes['keel.context.utilization'] = event.utilization;
        }
        span.endTimeMs = event.at;
        // Memory searches ran inside the assembly: each is a `search_memory` child span (GenAI memory operations).
        for (const read of track.memoryReads.splice(0)) {
          const search = this.open(track, read.seq, 'search_memory', 'internal', Math.max(span.startTimeMs, read.at - read.latencyMs), span.spanId);
          const searchAttributes = attributes(search);
          searchAttributes['gen_ai.operation.name'] = 'search_memory';
          searchAttributes['gen_ai.memory.record.count'] = read.results.length;
          searchAttributes['gen_ai.memory.records'] = JSON.stringify(read.results);
          searchAttributes['keel.memory.latency_ms'] = read.latencyMs;
          if (this.policy.includeMessageContent) searchAttributes['gen_ai.memory.query.text'] = this.content(read.query);
          search.endTimeMs = Math.max(search.startTimeMs, read.at);
          ended.push(freeze(search, false));
        }
        ended.push(freeze(span, false));
        break;
      }
      case 'memory-read':
        track.memoryReads.push(event);
        break;
      case 'model-request': {
        if (track.model !== null) {
          // A request with no outcome (the process stopped during the call); the resumed session asks again.
          track.model.endTimeMs = event.at;
          ended.push(freeze(track.model, true));
        }
        const parent = track.turn ?? track.root;
        const span = this.open(track, event.seq, `chat ${event.model}`, 'client', event.at, parent.spanId);
        const a = attributes(span);
        a['gen_ai.operation.name'] = 'chat';
        a['gen_ai.provider.name'] = event.provider;
        a['gen_ai.request.model'] = event.model;
        a['gen_ai.conversation.id'] = track.sessionId;
        if (event.streaming) a['gen_ai.request.stream'] = true;
        if (event.maxOutputTokens !== undefined) a['gen_ai.request.max_tokens'] = event.maxOutputTokens;
        const parameters = event.parameters;
        if (parameters?.temperature !== undefined) a['gen_ai.request.temperature'] = parameters.temperature;
        if (parameters?.topP !== undefined) a['gen_ai.request.top_p'] = parameters.topP;
        if (parameters?.stopSequences !== undefined) a['gen_ai.request.stop_sequences'] = [...parameters.stopSequences];
        if (parameters?.seed !== undefined) a['gen_ai.request.seed'] = parameters.seed;
        const endpoint = this.modelEndpoint?.(event.provider, track.modelSpec);
        if (endpoint !== undefined) {
          a['server.address'] = endpoint.address;
          a['server.port'] = endpoint.port;
        }
        a['keel.turn.number'] = event.turn;
        a['keel.context.request_hash'] = event.requestHash;
        track.model = span;
        break;
      }
      case 'model-response': {
        const span = track.model ?? this.orphanChat(track, event.seq, event.at - event.latencyMs, event.model);
        track.model = null;
        span.startTimeMs = Math.max(span.startTimeMs, event.at - event.latencyMs);
        span.endTimeMs = event.at;
        const a = attributes(span);
        const input = conventionInputTokens(event.usage);
        a['gen_ai.response.id'] = event.responseId;
        a['gen_ai.response.model'] = event.model;
        a['gen_ai.response.finish_reasons'] = [event.providerStopReason];
        a['gen_ai.usage.input_tokens'] = input;
        a['gen_ai.usage.output_tokens'] = event.usage.outputTokens;
        a['gen_ai.usage.cache_read.input_tokens'] = event.usage.cacheReadTokens;
        a['gen_ai.usage.cache_creation.input_tokens'] = event.usage.cacheWriteTokens;
        a['keel.stop_reason'] = event.stopReason;
        a['keel.model.latency_ms'] = event.latencyMs;
        a['keel.model.retries'] = event.retries;
        if (event.firstTokenMs !== undefined) a['gen_ai.response.time_to_first_chunk'] = event.firstTokenMs / 1000;
        // Time in the gateway's rate-limit queue, part of the call's duration.
        if (event.queueWaitMs !== undefined) a['keel.model.queue_wait_ms'] = event.queueWaitMs;
        if (event.costUsd !== null) a['keel.cost.usd'] = event.costUsd;
        if (this.policy.includeMessageContent) {
          a['gen_ai.output.messages'] = this.content([{ role: 'assistant', parts: outputParts(event.content), finish_reason: event.providerStopReason }]);
        }
        track.lastFinishReason = event.providerStopReason;
        const totals = track.turnTotals;
        totals.inputTokens += input;
        totals.outputTokens += event.usage.outputTokens;
        totals.modelCalls += 1;
        totals.costUsd = totals.costUsd === null || event.costUsd === null ? null : totals.costUsd + event.costUsd;
        ended.push(freeze(span, false));
        break;
      }
      case 'model-error': {
        const span = track.model ?? this.orphanChat(track, event.seq, event.at - event.latencyMs, track.root.attributes['gen_ai.request.model'] as string);
        track.model = null;
        span.startTimeMs = Math.max(span.startTimeMs, event.at - event.latencyMs);
        span.endTimeMs = event.at;
        const a = attributes(span);
        a['keel.model.latency_ms'] = event.latencyMs;
        a['keel.model.retries'] = event.retries;
        markError(span, event.error);
        track.turnTotals.modelCalls += 1;
        ended.push(freeze(span, false));
        break;
      }
      case 'tool-request': {
        if (track.tools.has(event.callId)) break;
        const parent = track.turn ?? track.root;
        const span = this.open(track, event.seq, `execute_tool ${event.tool}`, 'internal', event.at, parent.spanId);
        const a = attributes(span);
        a['gen_ai.operation.name'] = 'execute_tool';
        a['gen_ai.tool.name'] = event.tool;
        a['gen_ai.tool.call.id'] = event.callId;
        a['gen_ai.tool.type'] = 'function';
        const description = track.toolDescriptions[event.tool];
        if (description !== undefined) a['gen_ai.tool.description'] = description;
        a['gen_ai.conversation.id'] = track.sessionId;
        a['keel.turn.number'] = event.turn;
        a['keel.tool.idempotency_key'] = event.idempotencyKey;
        if (this.policy.includeToolInput) a['gen_ai.tool.call.arguments'] = this.content(event.input);
        track.tools.set(event.callId, span);
        track.toolInputs.set(event.callId, event.input);
        const entry: ToolCallIndexEntry = { seq: event.seq, at: event.at, tool: event.tool, spanId: span.spanId, outcomeAt: null };
        track.toolIndex.push(entry);
        track.toolIndexBySpan.set(span.spanId, entry);
        track.turnTotals.toolCalls += 1;
        break;
      }
      case 'tool-decision': {
        const span = track.tools.get(event.callId);
        if (span === undefined) break;
        span.attributes['keel.tool.decision'] = event.decision;
        span.attributes['keel.tool.decision.rule'] = event.rule;
        span.attributes['keel.tool.risk'] = event.risk;
        span.events.push({ name: 'keel.tool.decision', timeMs: event.at, attributes: { 'keel.tool.decision': event.decision, 'keel.tool.decision.rule': event.rule, 'keel.tool.decision.reason': event.reason } });
        break;
      }
      case 'verifier-decision': {
        // A span event on the call it checked (still open: the decision is journaled before the call runs).
        const span = event.callId === undefined ? undefined : track.tools.get(event.callId);
        const attributes: Record<string, string | number> = {
          'keel.verifier.subject': event.subject,
          'keel.verifier.decision': event.decision,
          'keel.verifier.reason': event.reason,
          'keel.verifier.model': event.model,
          'keel.verifier.latency_ms': event.latencyMs,
          'keel.turn.number': event.turn,
        };
        if (event.failure !== undefined) attributes['keel.verifier.failure'] = event.failure;
        if (event.usage !== null) {
          attributes['gen_ai.usage.input_tokens'] = conventionInputTokens(event.usage);
          attributes['gen_ai.usage.output_tokens'] = event.usage.outputTokens;
        }
        (span ?? track.turn ?? track.root).events.push({ name: 'keel.verifier_decision', timeMs: event.at, attributes });
        break;
      }
      case 'quarantined-read': {
        const span = event.callId === null ? undefined : track.tools.get(event.callId);
        const attributes: Record<string, string | number | boolean> = {
          'keel.quarantine.ok': event.ok,
          'keel.quarantine.provenance': event.provenance,
          'keel.quarantine.model': event.model,
          'keel.quarantine.attempts': event.attempts,
          'keel.quarantine.latency_ms': event.latencyMs,
          'gen_ai.usage.input_tokens': conventionInputTokens(event.usage),
          'gen_ai.usage.output_tokens': event.usage.outputTokens,
          'keel.turn.number': event.turn,
        };
        if (event.error !== undefined) attributes['error.type'] = event.error.code;
        (span ?? track.turn ?? track.root).events.push({ name: 'keel.quarantined_read', timeMs: event.at, attributes });
        break;
      }
      case 'side-call': {
        const span = track.tools.get(event.callId);
        const attributes: Record<string, string | number | boolean> = {
          'keel.side_call.ok': event.ok,
          'keel.side_call.purpose': event.purpose,
          'keel.side_call.model': event.model,
          'keel.side_call.latency_ms': event.latencyMs,
          'gen_ai.usage.input_tokens': conventionInputTokens(event.usage),
          'gen_ai.usage.output_tokens': event.usage.outputTokens,
          'keel.turn.number': event.turn,
        };
        if (event.error !== undefined) attributes['error.type'] = event.error.code;
        (span ?? track.turn ?? track.root).events.push({ name: 'keel.side_call', timeMs: event.at, attributes });
        break;
      }
      case 'injection-detect': {
        // Journaled just before the result it is about, while the call's span is still open.
        const span = event.callId === undefined ? undefined : track.tools.get(event.callId);
        const target = span ?? track.turn ?? track.root;
        target.attributes['keel.injection.action'] = event.action;
        target.events.push({
          name: 'keel.injection_detect',
          timeMs: event.at,
          attributes: {
            'keel.injection.item': event.item,
            'keel.injection.provenance': event.provenance,
            'keel.injection.score': event.score,
            'keel.injection.action': event.action,
            'keel.injection.finding_count': event.findingCount,
            'keel.injection.rules': JSON.stringify(event.findings.map((finding) => `${finding.layer}:${finding.rule}@${finding.start}-${finding.end}`)),
            'keel.turn.number': event.turn,
          },
        });
        break;
      }
      case 'tool-approval': {
        const span = track.tools.get(event.callId);
        if (span === undefined) break;
        const edited = event.editedInput !== undefined;
        span.attributes['keel.tool.approval'] = event.approved ? 'approved' : 'rejected';
        span.attributes['keel.tool.approver'] = event.approver;
        span.attributes['keel.tool.input_edited'] = edited;
        if (edited && this.policy.includeToolInput) {
          span.attributes['keel.tool.call.requested_arguments'] = this.content(track.toolInputs.get(event.callId));
          span.attributes['gen_ai.tool.call.arguments'] = this.content(event.editedInput);
        }
        span.events.push({ name: 'keel.tool.approval', timeMs: event.at, attributes: { 'keel.tool.approval': event.approved ? 'approved' : 'rejected', 'keel.tool.approver': event.approver, 'keel.tool.input_edited': edited } });
        break;
      }
      case 'tool-result':
      case 'tool-error': {
        const span = track.tools.get(event.callId);
        if (span === undefined || span.endTimeMs !== -1) break;
        span.endTimeMs = event.at;
        const a = attributes(span);
        a['keel.tool.latency_ms'] = event.latencyMs;
        if (event.type === 'tool-result') {
          a['keel.tool.outcome'] = 'ok';
          a['keel.tool.result_length'] = event.output.length;
          if (event.outputBlob !== undefined) a['keel.tool.output_blob'] = event.outputBlob;
          if (this.policy.includeToolOutput) a['gen_ai.tool.call.result'] = this.content(event.output);
        } else {
          a['keel.tool.outcome'] = a['keel.tool.decision'] === 'deny' ? 'denied' : a['keel.tool.approval'] === 'rejected' ? 'rejected' : 'error';
          markError(span, event.error);
          track.turnTotals.toolErrors += 1;
        }
        const entry = track.toolIndexBySpan.get(span.spanId);
        if (entry !== undefined) entry.outcomeAt = event.at;
        ended.push(freeze(span, false));
        break;
      }
      case 'compensation-request': {
        if (track.compensations.has(event.callId)) break;
        const parent = track.turn ?? track.root;
        const span = this.open(track, event.seq, `compensate ${event.tool}`, 'internal', event.at, parent.spanId);
        const a = attributes(span);
        a['gen_ai.tool.name'] = event.tool;
        a['gen_ai.tool.call.id'] = event.callId;
        a['gen_ai.conversation.id'] = track.sessionId;
        a['keel.turn.number'] = event.turn;
        a['keel.compensation.idempotency_key'] = event.idempotencyKey;
        a['keel.compensation.end_status'] = event.endStatus;
        track.compensations.set(event.callId, span);
        break;
      }
      case 'compensation-result': {
        const span = track.compensations.get(event.callId);
        if (span === undefined || span.endTimeMs !== -1) break;
        span.endTimeMs = event.at;
        span.attributes['keel.compensation.ok'] = event.ok;
        span.attributes['keel.tool.latency_ms'] = event.latencyMs;
        if (!event.ok && event.error !== null) markError(span, event.error);
        ended.push(freeze(span, false));
        break;
      }
      case 'guard-trip': {
        const root = track.root;
        root.attributes['keel.guard.name'] = event.guard;
        root.attributes['keel.guard.limit'] = event.limit;
        root.attributes['keel.guard.actual'] = event.actual;
        root.events.push({
          name: 'keel.guard_trip',
          timeMs: event.at,
          attributes: { 'keel.guard.name': event.guard, 'keel.guard.limit': event.limit, 'keel.guard.actual': event.actual, 'keel.turn.number': event.turn, 'keel.message': event.message },
        });
        break;
      }
      // A child session's spans hang under this session's through its session-start's parentSessionId.
      case 'child-start':
      case 'child-end':
        break;
      case 'anomaly': {
        if (!track.anomalies.includes(event.signal)) track.anomalies.push(event.signal);
        track.root.attributes['keel.anomaly.signals'] = [...track.anomalies];
        track.root.events.push({
          name: 'keel.anomaly',
          timeMs: event.at,
          attributes: { 'keel.anomaly.signal': event.signal, 'keel.anomaly.threshold': event.threshold, 'keel.anomaly.value': event.value, 'keel.turn.number': event.turn, 'keel.message': event.message },
        });
        break;
      }
      case 'memory-write': {
        // A span event rather than a span: the write is short and its cost is in latencyMs.
        const attributes: Record<string, string | number> = {
          'keel.memory.write.reason': event.reason,
          'keel.memory.record.count': event.records.length,
          'keel.memory.records': JSON.stringify(event.records.map((record) => record.id)),
          'keel.memory.latency_ms': event.latencyMs,
          'keel.turn.number': event.turn,
        };
        if (event.error !== undefined) attributes['error.type'] = event.error.code;
        (track.turn ?? track.root).events.push({ name: 'keel.memory.write', timeMs: event.at, attributes });
        break;
      }
      case 'session-end': {
        this.closeChildren(track, event.at, ended);
        this.closeTurn(track, event.at, ended);
        const root = track.root;
        root.endTimeMs = event.at;
        const a = root.attributes;
        a['keel.session.status'] = event.status;
        a['keel.session.turns'] = event.turns;
        a['gen_ai.usage.input_tokens'] = conventionInputTokens(event.usage);
        a['gen_ai.usage.output_tokens'] = event.usage.outputTokens;
        a['gen_ai.usage.cache_read.input_tokens'] = event.usage.cacheReadTokens;
        a['gen_ai.usage.cache_creation.input_tokens'] = event.usage.cacheWriteTokens;
        if (event.costUsd !== null) a['keel.cost.usd'] = event.costUsd;
        if (track.lastFinishReason !== null) a['gen_ai.response.finish_reasons'] = [track.lastFinishReason];
        if (event.error !== null) markError(root, event.error);
        if (this.policy.includeMessageContent && event.output !== null) {
          a['gen_ai.output.messages'] = this.content([{ role: 'assistant', parts: [{ type: 'text', content: event.output }], finish_reason: event.status === 'completed' ? 'stop' : 'error' }]);
        }
        ended.push(freeze(root, false));
        this.retire(track);
        break;
      }
      case 'step-start': {
        // A workflow step's span is a child of its enclosing step's (by path; `#n` marks an attempt), else the session's.
        const cut = event.path.lastIndexOf('/');
        const enclosing = cut < 0 ? undefined : track.tools.get(`step:${event.path.slice(0, cut).replace(/#\d+$/, '')}`);
        const span = this.open(track, event.seq, `workflow_step ${event.step}`, 'internal', event.at, (enclosing ?? track.root).spanId);
        const a = attributes(span);
        a['keel.workflow.step.path'] = event.path;
        a['keel.workflow.step.kind'] = event.kind;
        a['keel.workflow.step.attempt'] = event.attempt;
        if (event.childSessionId !== undefined) a['keel.workflow.child_session_id'] = event.childSessionId;
        track.tools.set(`step:${event.path}`, span);
        break;
      }
      case 'step-end': {
        const span = track.tools.get(`step:${event.path}`);
        if (span === undefined || span.endTimeMs !== -1) break;
        span.endTimeMs = event.at;
        const a = attributes(span);
        a['keel.workflow.step.status'] = event.status;
        if (event.usage !== undefined) {
          a['gen_ai.usage.input_tokens'] = event.usage.inputTokens;
          a['gen_ai.usage.output_tokens'] = event.usage.outputTokens;
        }
        if (event.error !== null) markError(span, event.error);
        ended.push(freeze(span, false));
        break;
      }
      // Workflow decisions: `keel trace` shows them under their step.
      case 'workflow-start':
      case 'gate':
      case 'route-decision':
      case 'parallel-join':
        break;
      case 'plan-step-start': {
        // A plan step's span is a child of the planner session's; its child session's spans hang under that session.
        const span = this.open(track, event.seq, `plan_step ${event.stepId}`, 'internal', event.at, track.root.spanId);
        const a = attributes(span);
        a['keel.plan.revision'] = event.revision;
        a['keel.plan.step.id'] = event.stepId;
        a['keel.plan.child_session_id'] = event.childSessionId;
        a['gen_ai.agent.name'] = event.agent;
        track.tools.set(`plan:${event.callId}`, span);
        break;
      }
      case 'plan-step-end': {
        const span = track.tools.get(`plan:${event.callId}`);
        if (span === undefined || span.endTimeMs !== -1) break;
        span.endTimeMs = event.at;
        const a = attributes(span);
        a['keel.plan.step.status'] = event.status;
        a['keel.plan.step.check'] = event.check.by;
        a['keel.plan.step.passed'] = event.check.passed;
        if (event.error !== null) markError(span, event.error);
        ended.push(freeze(span, false));
        break;
      }
      case 'plan-proposed':
      case 'plan-invalid':
      case 'plan-approval':
      case 'plan-deviation':
      case 'replan':
        track.root.events.push(planSpanEvent(event));
        break;
      case 'context-summary':
        break;
      default:
        ignoreNever(event);
        break;
    }
    return ended;
  }

  /** Ends every open span at its session's last event time, marked `keel.span.incomplete`. */
  closeOpen(): SpanModel[] {
    const ended: SpanModel[] = [];
    for (const track of this.sessions.values()) {
      if (track.ended) continue;
      this.closeChildren(track, track.lastAt, ended);
      if (track.turn !== null) {
        track.turn.endTimeMs = track.lastAt;
        this.finishTurnAttributes(track);
        ended.push(freeze(track.turn, true));
        track.turn = null;
      }
      track.root.endTimeMs = track.lastAt;
      ended.push(freeze(track.root, true));
      this.retire(track);
    }
    return ended;
  }

  /**
   * Adds attributes to the open execute_tool span of a call (the MCP client's `mcp.*` set). Returns false when the
   * call's span is not open here (another tracer's session, or the call already ended).
   */
  annotateToolCall(sessionId: string, callId: string, attributes: Readonly<Record<string, SpanAttributeValue>>): boolean {
    const span = this.sessions.get(sessionId)?.tools.get(callId);
    if (span === undefined || span.endTimeMs !== -1) return false;
    Object.assign(span.attributes, attributes);
    return true;
  }

  /** The W3C `traceparent` of a call's open execute_tool span, for propagation to the server it calls. */
  toolTraceparent(sessionId: string, callId: string): string | undefined {
    const span = this.sessions.get(sessionId)?.tools.get(callId);
    if (span === undefined || span.endTimeMs !== -1) return undefined;
    return `00-${span.traceId}-${span.spanId}-01`;
  }

  /** The trace and root session a session belongs to, once its session-start was seen. */
  traceOf(sessionId: string): { readonly traceId: string; readonly rootSessionId: string; readonly rootSpanId: string } | undefined {
    const track = this.sessions.get(sessionId);
    return track === undefined ? undefined : { traceId: track.traceId, rootSessionId: track.rootSessionId, rootSpanId: track.root.spanId };
  }

  private start(event: SessionStartEvent): void {
    const parent = event.parentSessionId === undefined ? null : this.parentFor(event, event.parentSessionId);
    const rootSessionId = parent === null ? event.sessionId : (parent.rootSessionId ?? event.parentSessionId ?? event.sessionId);
    const traceId = parent === null ? traceIdFor(event.sessionId) : parent.traceId;
    const root: MutableSpan = {
      traceId,
      spanId: spanIdFor(event.sessionId, event.seq),
      parentSpanId: parent === null ? null : parent.parentSpanId,
      name: `invoke_agent ${event.agent.name}`,
      kind: 'internal',
      startTimeMs: event.at,
      endTimeMs: -1,
      attributes: {},
      events: [],
      status: { code: 'unset' },
      sessionId: event.sessionId,
      seq: event.seq,
    };
    const a = root.attributes;
    a['gen_ai.operation.name'] = 'invoke_agent';
    a['gen_ai.provider.name'] = event.model.provider;
    a['gen_ai.request.model'] = event.model.modelId;
    a['gen_ai.agent.name'] = event.agent.name;
    // An agent is its name and its instructions: the same pair is the same agent across sessions and processes.
    a['gen_ai.agent.id'] = `${event.agent.name}:${event.agent.instructionsHash.slice(0, 16)}`;
    if (event.agent.description !== undefined) a['gen_ai.agent.description'] = event.agent.description;
    if (event.agent.version !== undefined) a['gen_ai.agent.version'] = event.agent.version;
    a['gen_ai.conversation.id'] = event.sessionId;
    a['keel.session.id'] = event.sessionId;
    a['keel.agent.instructions_hash'] = event.agent.instructionsHash;
    a['keel.agent.tools'] = [...event.agent.tools];
    a['keel.limits.max_turns'] = event.limits.maxTurns;
    if (event.limits.maxCostUsd !== null) a['keel.limits.max_cost_usd'] = event.limits.maxCostUsd;
    if (event.parentSessionId !== undefined) a['keel.session.parent_id'] = event.parentSessionId;
    if (this.policy.includeMessageContent) a['gen_ai.input.messages'] = this.content([{ role: 'user', parts: [{ type: 'text', content: event.input }] }]);
    this.sessions.set(event.sessionId, {
      sessionId: event.sessionId,
      traceId,
      rootSessionId,
      root,
      turn: null,
      turnNumber: 0,
      turnTotals: freshTotals(),
      model: null,
      tools: new Map(),
      toolInputs: new Map(),
      compensations: new Map(),
      toolIndex: [],
      toolIndexBySpan: new Map(),
      turnIndex: [],
      anomalies: [],
      toolDescriptions: event.agent.toolDescriptions ?? {},
      modelSpec: event.model.spec,
      memoryReads: [],
      lastFinishReason: null,
      lastAt: event.at,
      ended: false,
    });
  }

  /**
   * The default parent rule, a function of journaled data only, so live and rebuilt trees agree: among the
   * parent's tool calls requested at or before the subagent's start and not finished before it, the earliest
   * whose tool is named after the subagent, else the earliest; else the parent's latest turn begun by then;
   * else the parent's invoke_agent span.
   */
  private parentFor(event: SessionStartEvent, parentSessionId: string): ParentContext {
    const override = this.resolveParentOverride?.(event);
    if (override !== undefined) return override;
    const parent = this.sessions.get(parentSessionId);
    if (parent === undefined) return { traceId: traceIdFor(parentSessionId), parentSpanId: spanIdFor(parentSessionId, 1), rootSessionId: parentSessionId };
    const at = event.at;
    const running = parent.toolIndex.filter((call) => call.at <= at && (call.outcomeAt === null || call.outcomeAt >= at));
    const named = running.find((call) => call.tool === event.agent.name);
    const call = named ?? running[0];
    if (call !== undefined) return { traceId: parent.traceId, parentSpanId: call.spanId, rootSessionId: parent.rootSessionId };
    let turnSpanId: string | null = null;
    for (const turn of parent.turnIndex) if (turn.at <= at) turnSpanId = turn.spanId;
    return { traceId: parent.traceId, parentSpanId: turnSpanId ?? parent.root.spanId, rootSessionId: parent.rootSessionId };
  }

  /** Marks a session ended and drops what only an open session needs; forgets the oldest ended sessions over the cap. */
  private retire(track: SessionTrack): void {
    track.ended = true;
    track.tools.clear();
    track.toolInputs.clear();
    track.compensations.clear();
    track.toolIndexBySpan.clear();
    track.root.attributes = {};
    track.root.events = [];
    this.endedSessions.push(track.sessionId);
    while (this.endedSessions.length > this.maxEndedSessions) {
      const oldest = this.endedSessions.shift();
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
  }

  private open(track: SessionTrack, seq: number, name: string, kind: 'internal' | 'client', startTimeMs: number, parentSpanId: string): MutableSpan {
    return {
      traceId: track.traceId,
      spanId: spanIdFor(track.sessionId, seq),
      parentSpanId,
      name,
      kind,
      startTimeMs,
      endTimeMs: -1,
      attributes: {},
      events: [],
      status: { code: 'unset' },
      sessionId: track.sessionId,
      seq,
    };
  }

  private orphanChat(track: SessionTrack, seq: number, startTimeMs: number, model: string): MutableSpan {
    const parent = track.turn ?? track.root;
    const span = this.open(track, seq, `chat ${model}`, 'client', Math.max(parent.startTimeMs, startTimeMs), parent.spanId);
    span.attributes['gen_ai.operation.name'] = 'chat';
    span.attributes['gen_ai.provider.name'] = track.root.attributes['gen_ai.provider.name'] as string;
    span.attributes['gen_ai.request.model'] = model;
    span.attributes['gen_ai.conversation.id'] = track.sessionId;
    span.attributes['keel.turn.number'] = track.turnNumber;
    return span;
  }

  private finishTurnAttributes(track: SessionTrack): void {
    const turn = track.turn;
    if (turn === null) return;
    const totals = track.turnTotals;
    turn.attributes['gen_ai.usage.input_tokens'] = totals.inputTokens;
    turn.attributes['gen_ai.usage.output_tokens'] = totals.outputTokens;
    turn.attributes['keel.turn.model_calls'] = totals.modelCalls;
    turn.attributes['keel.turn.tool_calls'] = totals.toolCalls;
    turn.attributes['keel.turn.tool_errors'] = totals.toolErrors;
    if (totals.costUsd !== null && totals.modelCalls > 0) turn.attributes['keel.cost.usd'] = totals.costUsd;
  }

  private closeTurn(track: SessionTrack, at: number, ended: SpanModel[]): void {
    if (track.turn === null) return;
    track.turn.endTimeMs = at;
    this.finishTurnAttributes(track);
    ended.push(freeze(track.turn, false));
    track.turn = null;
  }

  /** Spans still open when their session ends: ended with it and marked incomplete. */
  private closeChildren(track: SessionTrack, at: number, ended: SpanModel[]): void {
    if (track.model !== null) {
      track.model.endTimeMs = at;
      ended.push(freeze(track.model, true));
      track.model = null;
    }
    for (const map of [track.tools, track.compensations]) {
      for (const span of map.values()) {
        if (span.endTimeMs !== -1) continue;
        span.endTimeMs = at;
        ended.push(freeze(span, true));
      }
    }
  }

  private content(value: unknown): string {
    // Redacted before serialising: in JSON text an escape such as `\n` glues a letter to the value and hides it from the detectors.
    const redact = this.policy.redact;
    const clean = redact === undefined ? value : redactStrings(value, redact);
    const text = typeof clean === 'string' ? clean : (clean === undefined ? 'null' : canonicalJson(clean));
    const limit = this.policy.maxContentLength;
    return text.length <= limit ? text : `${text.slice(0, limit)}…[truncated ${text.length - limit} characters]`;
  }
}

/** Without recursion: span content can be tool input, nested as deep as the model made it. */
function redactStrings(value: unknown, redact: (text: string) => string): unknown {
  return mapJsonStrings(value, redact);
}

/** Sessions in an order where a parent comes before its subagents, each session's events in journal order. */
function orderForRebuild(events: readonly SessionEvent[]): SessionEvent[] {
  const bySession = new Map<string, SessionEvent[]>();
  for (const event of events) {
    const list = bySession.get(event.sessionId);
    if (list === undefined) bySession.set(event.sessionId, [event]);
    else list.push(event);
  }
  const parentOf = new Map<string, string>();
  for (const [sessionId, list] of bySession) {
    list.sort((left, right) => left.seq - right.seq);
    const start = list[0];
    if (start?.type === 'session-start' && start.parentSessionId !== undefined && bySession.has(start.parentSessionId)) parentOf.set(sessionId, start.parentSessionId);
  }
  const ordered: SessionEvent[] = [];
  const done = new Set<string>();
  const visit = (sessionId: string, path: Set<string>): void => {
    if (done.has(sessionId) || path.has(sessionId)) return;
    path.add(sessionId);
    const parent = parentOf.get(sessionId);
    if (parent !== undefined) visit(parent, path);
    done.add(sessionId);
    ordered.push(...(bySession.get(sessionId) ?? []));
  };
  for (const sessionId of bySession.keys()) visit(sessionId, new Set());
  return ordered;
}

export interface BuildSpansOptions extends SpanBuilderOptions {
  /** Also end spans that are still open at the end of the journal, marked `keel.span.incomplete`. Default false, as live. */
  readonly closeOpen?: boolean;
}

/** Rebuilds the spans of one or more stored journals (a session and its subagents), in the order they ended. */
export function buildSpans(events: readonly SessionEvent[], options: BuildSpansOptions = {}): SpanModel[] {
  const builder = new JournalSpanBuilder(options);
  const spans: SpanModel[] = [];
  for (const event of orderForRebuild(events)) spans.push(...builder.push(event));
  if (options.closeOpen === true) spans.push(...builder.closeOpen());
  return spans;
}
