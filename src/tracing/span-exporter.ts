import { observeMcpCalls } from './mcp-call-telemetry.ts';
import { SpanKind, SpanStatusCode, TraceFlags, diag } from '@opentelemetry/api';
import type { AttributeValue, Attributes, HrTime, SpanContext } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { KeelError } from '../errors/index.ts';
import type { SessionEvent } from '../spec/events.ts';
import { createResource, instrumentationScope, keyValuePairs } from './otel-resource.ts';
import { JournalSpanBuilder, buildSpans, resolveContentPolicy } from './journal-spans.ts';
import type { BuildSpansOptions, ResolvedContentPolicy, SpanAttributes, SpanBuilderOptions, SpanContentPolicy, SpanModel } from './journal-spans.ts';

type Env = Readonly<Record<string, string | undefined>>;
type OtlpCompression = NonNullable<NonNullable<ConstructorParameters<typeof OTLPTraceExporter>[0]>['compression']>;

export interface TraceExportOptions {
  /** Where configuration comes from; `process.env` when omitted. Read once, here. */
  readonly env?: Env;
  /** Export here instead of OTLP (tests: `InMemorySpanExporter`). Without one, OTLP/HTTP when an endpoint is configured, else nothing. */
  readonly exporter?: SpanExporter;
  /** `batch` (the default for OTLP: one request per batch) or `simple` (one export per span; the default for a given exporter). */
  readonly processor?: 'simple' | 'batch';
  /** Content that may leave the process. Each field defaults to `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`, else false. */
  readonly policy?: SpanContentPolicy;
  /** `service.name` of the resource; else `OTEL_SERVICE_NAME`, else `keel`. */
  readonly serviceName?: string;
}

export interface TraceExport {
  /** False when no exporter was given and no OTLP endpoint is configured (or `OTEL_SDK_DISABLED=true`): emitting is then a no-op. */
  readonly enabled: boolean;
  /** The resolved OTLP/HTTP traces URL, or null when not exporting over OTLP. */
  readonly endpoint: string | null;
  readonly exporter: SpanExporter | null;
  readonly policy: ResolvedContentPolicy;
  readonly resource: Resource;
  /** Hands ended spans to the processor (batched or exported at once). */
  emit(spans: readonly SpanModel[]): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && value.trim().toLowerCase() === 'true';
}

function positiveNumber(env: Env, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new KeelError('invalid-config', `${name} must be a positive number of milliseconds or items, not "${raw}".`);
  return value;
}

function validUrl(value: string, option: string): string {
  try {
    return new URL(value).toString();
  } catch {
    throw new KeelError('invalid-config', `${option} is not a valid URL: "${value}". Set it to the collector's base URL, for example http://localhost:4318.`);
  }
}

/**
 * The OTLP/HTTP traces URL from the environment, as the OpenTelemetry specification resolves it:
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as given, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`, else null.
 */
export function resolveTracesEndpoint(env: Env): string | null {
  const specific = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (specific !== undefined && specific !== '') return validUrl(specific, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  if (base === undefined || base === '') return null;
  const url = validUrl(base, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  return `${url.endsWith('/') ? url : `${url}/`}v1/traces`;
}

/** Resolves tracing configuration once and builds the exporter and processor; importing this module does nothing. */
export function createTraceExport(options: TraceExportOptions = {}): TraceExport {
  const env = options.env ?? process.env;
  const capture = isTrue(env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT);
  const given = options.policy ?? {};
  const policy = resolveContentPolicy({
    includeToolInput: given.includeToolInput ?? capture,
    includeToolOutput: given.includeToolOutput ?? capture,
    includeMessageContent: given.includeMessageContent ?? capture,
    ...(given.maxContentLength === undefined ? {} : { maxContentLength: given.maxContentLength }),
    ...(given.redact === undefined ? {} : { redact: given.redact }),
  });
  const resource = createResource(env, options.serviceName);
  const disabled = isTrue(env.OTEL_SDK_DISABLED);
  let endpoint: string | null = null;
  let exporter: SpanExporter | null = options.exporter ?? null;
  if (exporter === null && !disabled) {
    endpoint = resolveTracesEndpoint(env);
    if (endpoint !== null) {
      const timeoutMillis = positiveNumber(env, 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT') ?? positiveNumber(env, 'OTEL_EXPORTER_OTLP_TIMEOUT') ?? 10_000;
      const compression = (env.OTEL_EXPORTER_OTLP_TRACES_COMPRESSION ?? env.OTEL_EXPORTER_OTLP_COMPRESSION)?.trim() === 'gzip' ? 'gzip' : 'none';
      exporter = new OTLPTraceExporter({
        url: endpoint,
        headers: { ...keyValuePairs(env.OTEL_EXPORTER_OTLP_HEADERS), ...keyValuePairs(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS) },
        timeoutMillis,
        compression: compression as OtlpCompression,
      });
    }
  }
  if (exporter === null) {
    return { enabled: false, endpoint: null, exporter: null, policy, resource, emit: () => undefined, forceFlush: async () => undefined, shutdown: async () => undefined };
  }
  const kind = options.processor ?? (options.exporter === undefined ? 'batch' : 'simple');
  const processor: SpanProcessor =
    kind === 'simple'
      ? new SimpleSpanProcessor(exporter)
      : new BatchSpanProcessor(exporter, {
          maxExportBatchSize: positiveNumber(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE') ?? 512,
          maxQueueSize: positiveNumber(env, 'OTEL_BSP_MAX_QUEUE_SIZE') ?? 2048,
          scheduledDelayMillis: positiveNumber(env, 'OTEL_BSP_SCHEDULE_DELAY') ?? 5000,
          exportTimeoutMillis: positiveNumber(env, 'OTEL_BSP_EXPORT_TIMEOUT') ?? 30_000,
        });
  return {
    enabled: true,
    endpoint,
    exporter,
    policy,
    resource,
    emit(spans) {
      for (const span of spans) processor.onEnd(toReadableSpan(span, resource));
    },
    forceFlush: () => processor.forceFlush(),
    shutdown: () => processor.shutdown(),
  };
}

/** Epoch milliseconds (possibly fractional) as OpenTelemetry's [seconds, nanoseconds]. */
export function hrTimeFromMilliseconds(milliseconds: number): HrTime {
  let seconds = Math.floor(milliseconds / 1000);
  let nanoseconds = Math.round((milliseconds - seconds * 1000) * 1e6);
  if (nanoseconds >= 1e9) {
    seconds += 1;
    nanoseconds -= 1e9;
  }
  return [seconds, nanoseconds];
}

function toAttributes(attributes: SpanAttributes): Attributes {
  const converted: Attributes = {};
  for (const [key, value] of Object.entries(attributes)) converted[key] = (Array.isArray(value) ? [...value] : value) as AttributeValue;
  return converted;
}

/** A span of the model as the SDK's finished span, ready for any `SpanExporter`. */
export function toReadableSpan(span: SpanModel, resource: Resource): ReadableSpan {
  const context: SpanContext = { traceId: span.traceId, spanId: span.spanId, traceFlags: TraceFlags.SAMPLED };
  const parent: SpanContext | undefined = span.parentSpanId === null ? undefined : { traceId: span.traceId, spanId: span.parentSpanId, traceFlags: TraceFlags.SAMPLED };
  return {
    name: span.name,
    kind: span.kind === 'client' ? SpanKind.CLIENT : SpanKind.INTERNAL,
    spanContext: () => context,
    parentSpanContext: parent,
    startTime: hrTimeFromMilliseconds(span.startTimeMs),
    endTime: hrTimeFromMilliseconds(span.endTimeMs),
    duration: hrTimeFromMilliseconds(span.endTimeMs - span.startTimeMs),
    status: span.status.code === 'error' ? { code: SpanStatusCode.ERROR, ...(span.status.message === undefined ? {} : { message: span.status.message }) } : { code: SpanStatusCode.UNSET },
    attributes: toAttributes(span.attributes),
    links: [],
    events: span.events.map((event) => ({ name: event.name, time: hrTimeFromMilliseconds(event.timeMs), attributes: toAttributes(event.attributes) })),
    ended: true,
    resource,
    instrumentationScope,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

/** A live update as the loop emits it (`SessionUpdate`); anything without an `event` (streamed model parts) is ignored. */
export interface TracedUpdate {
  readonly type: string;
  readonly event?: SessionEvent;
}

export interface LiveTracer {
  /** Feed every update of the session (and of its subagents) in order; cheap and synchronous. Usable as `RunOptions.onUpdate`. */
  readonly observe: (update: TracedUpdate) => void;
  /** Journal events written before this process took over (a resumed session): state only; spans they ended are not exported again. */
  preload(events: readonly SessionEvent[]): void;
  /** Exports the spans still open (a session suspended for approval, or at shutdown) as incomplete; they will not be exported again here. */
  closeOpen(): void;
  /** Adds attributes to a call's open execute_tool span (what the MCP client reports about its request). */
  annotateToolCall(sessionId: string, callId: string, attributes: Readonly<Record<string, string | number>>): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Spans as the journal is written: each span is exported when the event that ends it arrives. The tree equals
 * `exportJournal` over the stored journal (same ids, parents, times and attributes).
 */
export interface LiveTracerOptions extends Omit<SpanBuilderOptions, 'policy'> {
  /** Telemetry never breaks a session: a failure while tracing an update goes here (default: OpenTelemetry's `diag`). */
  readonly onError?: (error: unknown) => void;
}

export function createLiveTracer(traceExport: TraceExport, options: LiveTracerOptions = {}): LiveTracer {
  if (!traceExport.enabled) {
    return { observe: () => undefined, preload: () => undefined, closeOpen: () => undefined, annotateToolCall: () => undefined, forceFlush: async () => undefined, shutdown: async () => undefined };
  }
  const builder = new JournalSpanBuilder({ ...options, policy: traceExport.policy });
  const onError = options.onError ?? ((error: unknown) => diag.error('keel: tracing an update failed', error));
  // MCP tool calls made in this process: their traceparent comes from, and their mcp.* attributes go to, this tracer.
  const stopObservingMcp = observeMcpCalls({
    traceparent: (sessionId, callId) => builder.toolTraceparent(sessionId, callId),
    record: (sessionId, callId, attributes) => void builder.annotateToolCall(sessionId, callId, attributes),
  });
  return {
    observe(update) {
      const event = update.event;
      if (event === undefined) return;
      try {
        const ended = builder.push(event);
        if (ended.length > 0) traceExport.emit(ended);
      } catch (error) {
        onError(error);
      }
    },
    preload(events) {
      for (const event of events) builder.push(event);
    },
    closeOpen() {
      traceExport.emit(builder.closeOpen());
    },
    annotateToolCall(sessionId, callId, attributes) {
      builder.annotateToolCall(sessionId, callId, attributes);
    },
    forceFlush: () => traceExport.forceFlush(),
    shutdown: () => {
      stopObservingMcp();
      return traceExport.shutdown();
    },
  };
}

/** Rebuilds spans from stored journals (a session and, optionally, its subagents' sessions), exports them and flushes. */
export async function exportJournal(traceExport: TraceExport, events: readonly SessionEvent[], options: Omit<BuildSpansOptions, 'policy'> = {}): Promise<SpanModel[]> {
  const spans = buildSpans(events, { ...options, policy: traceExport.policy });
  traceExport.emit(spans);
  await traceExport.forceFlush();
  return spans;
}
