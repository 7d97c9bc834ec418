import { ignoreNever } from '../util/assert-never.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { diag } from '@opentelemetry/api';
import type { Attributes, Counter, Histogram, Meter } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { IMetricReader } from '@opentelemetry/sdk-metrics';
import { KeelError } from '../errors/index.ts';
import type { SessionEvent } from '../spec/events.ts';
import { conventionInputTokens } from './journal-spans.ts';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { SessionMetricsFold } from './session-metrics.ts';
import { SessionAttributes } from './metric-attributes.ts';
import type { ChatModels } from './metric-attributes.ts';
import type { SessionMetrics, TurnMetrics } from './session-metrics.ts';
import { createResource, instrumentationScope } from './otel-resource.ts';
import type { TracedUpdate } from './span-exporter.ts';
import { prometheusContentType } from './prometheus-content-type.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** Bucket boundaries the GenAI conventions recommend for `gen_ai.client.token.usage`. */
export const tokenBuckets = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
/** Bucket boundaries the GenAI conventions recommend for `gen_ai.client.operation.duration` (seconds). */
export const durationBuckets = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
/** Model calls and tool calls (tens of milliseconds to a minute) and whole sessions (up to an hour) share one histogram. */
const operationBuckets = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92, 300, 600, 1800, 3600];
const ratioBuckets = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1];
const countBuckets = [0, 1, 2, 3, 5, 8, 10, 15, 20, 30, 50, 100];
const costBuckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25];

export { prometheusContentType };

/**
 * OpenTelemetry's own Prometheus exporter as a pull reader, without its HTTP server: Keel serves `/metrics` itself
 * (on the API server, or through `handler`), and renders with the exporter's serializer.
 */
export class PrometheusTextReader extends PrometheusExporter {
  private readonly serializer = new PrometheusSerializer();

  constructor() {
    super({ preventServerStart: true });
  }

  async render(): Promise<string> {
    const { resourceMetrics, errors } = await this.collect();
    for (const error of errors) diag.error('keel: collecting metrics for Prometheus failed', error);
    return this.serializer.serialize(resourceMetrics);
  }
}

export interface KeelMetricsOptions {
  /** Read once, here; `process.env` when omitted. */
  readonly env?: Env;
  /** Also push to an OTLP/HTTP collector (`OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/metrics`). Default: when an endpoint is set. */
  readonly otlp?: boolean;
  /** The OTLP push interval; else `OTEL_METRIC_EXPORT_INTERVAL`, else 60 s. */
  readonly exportIntervalMillis?: number;
  /** More readers (tests: a reader over `InMemoryMetricExporter`). */
  readonly readers?: readonly IMetricReader[];
  readonly serviceName?: string;
  /** Telemetry never breaks a session: a failure while recording an update goes here (default: OpenTelemetry's `diag`). */
  readonly onError?: (error: unknown) => void;
}

export interface KeelMetrics {
  readonly meterProvider: MeterProvider;
  /** The pull reader `/metrics` is rendered from (OpenTelemetry's Prometheus exporter, its own server off). */
  readonly prometheus: IMetricReader;
  /** The resolved OTLP/HTTP metrics URL, or null. */
  readonly otlpEndpoint: string | null;
  /** Live: feed every update (any session, in order). Usable as `RunOptions.onUpdate`. */
  readonly observe: (update: TracedUpdate) => void;
  /** Records stored journals (one or more sessions), exactly as if their events had been observed live. */
  recordJournal(events: readonly SessionEvent[]): void;
  /**
   * The journal of a session this process resumes, written by an earlier run: its turn and session figures continue
   * from there, and its earlier calls are not counted again.
   */
  preload(events: readonly SessionEvent[]): void;
  renderPrometheus(): Promise<string>;
  /** A `/metrics` handler for node:http (GET and HEAD). */
  readonly handler: (request: IncomingMessage, response: ServerResponse) => void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

interface Instruments {
  readonly tokenUsage: Histogram;
  readonly operationDuration: Histogram;
  readonly timeToFirstChunk: Histogram;
  readonly sessions: Counter;
  readonly sessionTurns: Histogram;
  readonly sessionTokens: Histogram;
  readonly sessionCost: Histogram;
  readonly sessionToolCalls: Histogram;
  readonly sessionToolErrorRate: Histogram;
  readonly sessionToolDiversity: Histogram;
  readonly sessionContextPeak: Histogram;
  readonly turns: Counter;
  readonly turnTokens: Histogram;
  readonly turnLlmLatency: Histogram;
  readonly turnToolCalls: Histogram;
  readonly turnToolErrorRate: Histogram;
  readonly turnContextUtilization: Histogram;
  readonly cost: Counter;
  readonly toolCalls: Counter;
  readonly anomalies: Counter;
  readonly guardTrips: Counter;
}

function histogram(meter: Meter, name: string, unit: string, description: string, buckets: number[]): Histogram {
  return meter.createHistogram(name, { unit, description, advice: { explicitBucketBoundaries: buckets } });
}

function createInstruments(meter: Meter): Instruments {
  return {
    tokenUsage: histogram(meter, 'gen_ai.client.token.usage', '{token}', 'Number of input and output tokens used per model call (input includes cached tokens).', tokenBuckets),
    // Semantic conventions 1.41.0 (the schema URL Keel declares) have one duration metric for every GenAI operation,
    // told apart by gen_ai.operation.name: chat (retries included), invoke_agent (a session) and execute_tool.
    operationDuration: histogram(meter, 'gen_ai.client.operation.duration', 's', 'GenAI operation duration, by gen_ai.operation.name: model calls (retries included), agent sessions, tool calls.', operationBuckets),
    timeToFirstChunk: histogram(meter, 'gen_ai.client.operation.time_to_first_chunk', 's', 'Streamed model calls: time from the request to the first chunk of the answering attempt.', durationBuckets),
    sessions: meter.createCounter('keel.session.count', { unit: '{session}', description: 'Sessions ended, by agent and completion status (success, failure, timeout, cancelled).' }),
    sessionTurns: histogram(meter, 'keel.session.turns', '{turn}', 'Turns per session; sessions over 15 turns warrant investigation.', countBuckets),
    sessionTokens: histogram(meter, 'keel.session.tokens', '{token}', 'Tokens per session, by type (input includes cached tokens).', tokenBuckets),
    sessionCost: histogram(meter, 'keel.session.cost.usd', '{USD}', 'Cost per session, for sessions whose every model call has a price.', costBuckets),
    sessionToolCalls: histogram(meter, 'keel.session.tool_calls', '{call}', 'Tool calls per session.', countBuckets),
    sessionToolErrorRate: histogram(meter, 'keel.session.tool_error_rate', '1', 'Share of a session\'s tool calls that failed, for sessions with tool outcomes.', ratioBuckets),
    sessionToolDiversity: histogram(meter, 'keel.session.tool_diversity', '1', 'Distinct tools / tool calls per session (1: every call a different tool).', ratioBuckets),
    sessionContextPeak: histogram(meter, 'keel.session.context_peak_utilization', '1', 'Highest context window utilization of a session, when the window is known.', ratioBuckets),
    turns: meter.createCounter('keel.turn.count', { unit: '{turn}', description: 'Turns ended.' }),
    turnTokens: histogram(meter, 'keel.turn.tokens', '{token}', 'Tokens per turn, by type (input includes cached tokens).', tokenBuckets),
    turnLlmLatency: histogram(meter, 'keel.turn.llm_latency', 's', 'Model latency per turn (sum over the turn\'s model calls).', durationBuckets),
    turnToolCalls: histogram(meter, 'keel.turn.tool_calls', '{call}', 'Tool calls per turn.', countBuckets),
    turnToolErrorRate: histogram(meter, 'keel.turn.tool_error_rate', '1', 'Share of a turn\'s tool calls that failed, for turns with tool outcomes.', ratioBuckets),
    turnContextUtilization: histogram(meter, 'keel.turn.context_utilization', '1', 'Share of the model\'s context window the turn\'s request fills, when the window is known.', ratioBuckets),
    cost: meter.createCounter('keel.cost.usd', { unit: '{USD}', description: 'Model cost in US dollars, for calls with a price.' }),
    toolCalls: meter.createCounter('keel.tool.calls', { unit: '{call}', description: 'Tool call outcomes, by tool and outcome (ok, error).' }),
    anomalies: meter.createCounter('keel.anomaly.count', { unit: '{anomaly}', description: 'Anomaly signals journaled, by signal.' }),
    guardTrips: meter.createCounter('keel.guard.trips', { unit: '{trip}', description: 'Guards tripped, by guard.' }),
  };
}

interface SessionRecorder extends ChatModels {
  readonly fold: SessionMetricsFold;
  readonly attributes: SessionAttributes;
}

/** Records one session's events into the instruments; per-call values at once, per-turn and per-session ones when they end. */
class MetricsRecorder {
  private readonly sessions = new Map<string, SessionRecorder>();
  private readonly instruments: Instruments;

  constructor(instruments: Instruments) {
    this.instruments = instruments;
  }

  tracks(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }

  /** Events another process already recorded (a resumed session): the session's fold only, nothing counted again. */
  preload(events: readonly SessionEvent[]): void {
    for (const event of events) {
      const session = this.sessionOf(event);
      if (session === undefined) continue;
      if (session.fold.push(event).session !== null) this.sessions.delete(event.sessionId);
    }
  }

  private sessionOf(event: SessionEvent): SessionRecorder | undefined {
    let session = this.sessions.get(event.sessionId);
    if (session === undefined && event.type === 'session-start') {
      session = { fold: new SessionMetricsFold(event.sessionId), provider: event.model.provider, requestModel: event.model.modelId, attributes: new SessionAttributes(event.agent.name) };
      this.sessions.set(event.sessionId, session);
    }
    if (event.type === 'model-request' && session !== undefined) {
      session.provider = event.provider;
      session.requestModel = event.model;
    }
    return session;
  }

  push(event: SessionEvent): void {
    const session = this.sessionOf(event);
    if (session === undefined) return;
    const i = this.instruments;
    const agent = session.attributes.agent;
    switch (event.type) {
      case 'model-response': {
        const chat = session.attributes.chat(session, event.model);
        i.tokenUsage.record(conventionInputTokens(event.usage), chat.input);
        i.tokenUsage.record(event.usage.outputTokens, chat.output);
        i.operationDuration.record(event.latencyMs / 1000, chat.base);
        if (event.firstTokenMs !== undefined) i.timeToFirstChunk.record(event.firstTokenMs / 1000, chat.base);
        if (event.costUsd !== null) i.cost.add(event.costUsd, chat.cost);
        break;
      }
      case 'verifier-decision':
      case 'quarantined-read':
      case 'side-call': {
        if (event.usage === null) break;
        const role = event.type === 'verifier-decision' ? 'verifier' : event.type === 'quarantined-read' ? 'quarantined-reader' : 'side-call';
        const base: Attributes = { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': session.provider, 'gen_ai.request.model': event.model, 'keel.model.role': role };
        i.tokenUsage.record(conventionInputTokens(event.usage), { ...base, 'gen_ai.token.type': 'input' });
        i.tokenUsage.record(event.usage.outputTokens, { ...base, 'gen_ai.token.type': 'output' });
        if (event.costUsd !== null) i.cost.add(event.costUsd, { ...agent, 'gen_ai.provider.name': session.provider, 'gen_ai.request.model': event.model });
        break;
      }
      case 'model-error':
        i.operationDuration.record(event.latencyMs / 1000, { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': session.provider, 'gen_ai.request.model': session.requestModel, 'error.type': event.error.code });
        break;
      case 'tool-result':
      case 'tool-error': {
        const tool = session.attributes.tool(event.tool);
        if (event.type === 'tool-error') {
          i.operationDuration.record(event.latencyMs / 1000, { ...tool.duration, 'error.type': event.error.code });
          i.toolCalls.add(1, tool.error);
        } else {
          i.operationDuration.record(event.latencyMs / 1000, tool.duration);
          i.toolCalls.add(1, tool.ok);
        }
        break;
      }
      case 'child-start':
      case 'child-end':
        break;
      case 'anomaly':
        i.anomalies.add(1, { ...agent, 'keel.anomaly.signal': event.signal });
        break;
      case 'guard-trip':
        i.guardTrips.add(1, { ...agent, 'keel.guard.name': event.guard });
        break;
      case 'session-start':
      case 'model-request':
      case 'turn-start':
      case 'context-assemble':
      case 'context-summary':
      case 'memory-read':
      case 'memory-write':
      case 'tool-request':
      case 'tool-decision':
      case 'injection-detect':
      case 'tool-approval':
      case 'compensation-request':
      case 'compensation-result':
      case 'session-end':
        break;
      // Workflow steps: the session counters cover them.
      case 'workflow-start':
      case 'step-start':
      case 'step-end':
      case 'gate':
      case 'route-decision':
      case 'parallel-join':
        break;
      // Planner events: the session counters cover them.
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
    const { turn, session: ended } = session.fold.push(event);
    if (turn !== null) this.recordTurn(turn, session);
    if (ended !== null) {
      this.recordSession(ended, event);
      this.sessions.delete(event.sessionId);
    }
  }

  private recordTurn(turn: TurnMetrics, session: SessionRecorder): void {
    const i = this.instruments;
    const { agent, agentInput, agentOutput } = session.attributes;
    i.turns.add(1, agent);
    i.turnTokens.record(turn.inputTokens, agentInput);
    i.turnTokens.record(turn.outputTokens, agentOutput);
    i.turnLlmLatency.record(turn.llmLatencyMs / 1000, agent);
    i.turnToolCalls.record(turn.toolCalls, agent);
    if (turn.toolErrorRate !== null) i.turnToolErrorRate.record(turn.toolErrorRate, agent);
    if (turn.contextUtilization !== null) i.turnContextUtilization.record(turn.contextUtilization, agent);
  }

  private recordSession(metrics: SessionMetrics, end: SessionEvent): void {
    const i = this.instruments;
    const agent = { 'gen_ai.agent.name': metrics.agent };
    const error = end.type === 'session-end' && end.error !== null ? { 'error.type': end.error.code } : {};
    i.operationDuration.record(metrics.durationMs / 1000, { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.provider.name': metrics.provider, 'gen_ai.request.model': metrics.model, ...agent, ...error });
    i.sessions.add(1, { ...agent, 'keel.session.completion': metrics.completion });
    i.sessionTurns.record(metrics.totalTurns, agent);
    i.sessionTokens.record(metrics.inputTokens, { ...agent, 'gen_ai.token.type': 'input' });
    i.sessionTokens.record(metrics.outputTokens, { ...agent, 'gen_ai.token.type': 'output' });
    if (metrics.costUsd !== null) i.sessionCost.record(metrics.costUsd, agent);
    i.sessionToolCalls.record(metrics.toolCalls, agent);
    if (metrics.toolErrorRate !== null) i.sessionToolErrorRate.record(metrics.toolErrorRate, agent);
    if (metrics.toolDiversity !== null) i.sessionToolDiversity.record(metrics.toolDiversity, agent);
    if (metrics.contextPeakUtilization !== null) i.sessionContextPeak.record(metrics.contextPeakUtilization, agent);
  }
}

/** The OTLP/HTTP metrics URL: `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` as given, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/metrics`, else null. */
export function resolveMetricsEndpoint(env: Env): string | null {
  const parse = (value: string, option: string): string => {
    try {
      return new URL(value).toString();
    } catch {
      throw new KeelError('invalid-config', `${option} is not a valid URL: "${value}".`);
    }
  };
  const specific = env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT?.trim();
  if (specific !== undefined && specific !== '') return parse(specific, 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT');
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (base === undefined || base === '') return null;
  const url = parse(base, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  return `${url.endsWith('/') ? url : `${url}/`}v1/metrics`;
}

/** Metrics as OpenTelemetry instruments, scraped as Prometheus text and optionally pushed over OTLP. */
export function createKeelMetrics(options: KeelMetricsOptions = {}): KeelMetrics {
  const env = options.env ?? process.env;
  const prometheus = new PrometheusTextReader();
  const readers: IMetricReader[] = [prometheus, ...(options.readers ?? [])];
  const disabled = env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';
  const otlpEndpoint = options.otlp === false || disabled ? null : resolveMetricsEndpoint(env);
  if (options.otlp === true && otlpEndpoint === null) {
    throw new KeelError('invalid-config', 'OTLP metrics export was asked for, but neither OTEL_EXPORTER_OTLP_METRICS_ENDPOINT nor OTEL_EXPORTER_OTLP_ENDPOINT is set.');
  }
  if (otlpEndpoint !== null) {
    const rawInterval = env.OTEL_METRIC_EXPORT_INTERVAL;
    const interval = options.exportIntervalMillis ?? (rawInterval === undefined || rawInterval.trim() === '' ? 60_000 : Number(rawInterval));
    if (!Number.isFinite(interval) || interval <= 0) throw new KeelError('invalid-config', `OTEL_METRIC_EXPORT_INTERVAL must be a positive number of milliseconds, not "${rawInterval}".`);
    readers.push(new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: otlpEndpoint }), exportIntervalMillis: interval, exportTimeoutMillis: Math.min(interval, 30_000) }));
  }
  const meterProvider = new MeterProvider({ resource: createResource(env, options.serviceName), readers });
  const meter = meterProvider.getMeter(instrumentationScope.name, instrumentationScope.version, { schemaUrl: instrumentationScope.schemaUrl });
  const recorder = new MetricsRecorder(createInstruments(meter));
  const render = (): Promise<string> => prometheus.render();
  const onError = options.onError ?? ((error: unknown) => diag.error('keel: recording metrics for an update failed', error));
  return {
    meterProvider,
    prometheus,
    otlpEndpoint,
    observe(update) {
      if (update.event === undefined) return;
      try {
        recorder.push(update.event);
      } catch (error) {
        onError(error);
      }
    },
    recordJournal(events) {
      // Sessions one after another, each in journal order: the same calls as live observation.
      const bySession = new Map<string, SessionEvent[]>();
      for (const event of events) {
        const list = bySession.get(event.sessionId);
        if (list === undefined) bySession.set(event.sessionId, [event]);
        else list.push(event);
      }
      for (const list of bySession.values()) for (const event of [...list].sort((left, right) => left.seq - right.seq)) recorder.push(event);
    },
    preload(events) {
      if (events[0] !== undefined && recorder.tracks(events[0].sessionId)) return;
      try {
        recorder.preload(events);
      } catch (error) {
        onError(error);
      }
    },
    renderPrometheus: render,
    handler(request, response) {
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
        response.end('Method not allowed: use GET.\n');
        return;
      }
      render().then(
        (text) => {
          response.writeHead(200, { 'content-type': prometheusContentType, 'cache-control': 'no-store' });
          response.end(request.method === 'HEAD' ? undefined : text);
        },
        (error: unknown) => {
          response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
          response.end(`Collecting metrics failed: ${error instanceof Error ? error.message : String(error)}\n`);
        },
      );
    },
    forceFlush: () => meterProvider.forceFlush(),
    shutdown: () => meterProvider.shutdown(),
  };
}
