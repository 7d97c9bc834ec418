import type { SessionUpdate } from '../loop/index.ts';
import type { SessionEvent } from '../spec/events.ts';
import { JournalSpanBuilder } from '../tracing/journal-spans.ts';
import { observeMcpCalls } from '../tracing/mcp-call-telemetry.ts';
import type { LiveTracer, TraceExport } from '../tracing/otel.ts';
import type { KeelMetrics, KeelMetricsOptions } from '../tracing/metrics.ts';
import { modelEndpointFromEnv } from './model-endpoint.ts';

export interface Telemetry {
  readonly observe: (update: SessionUpdate) => void;
  /**
   * The journal of a session this process resumes: its spans' state, so the resumed spans hang under the session's
   * earlier ones (spans the earlier process ended were exported by it and are not exported again).
   */
  preload(events: readonly SessionEvent[]): void;
  /** Exports spans still open (a session suspended for approval) and flushes the exporter. */
  close(): Promise<void>;
}

/**
 * Live OpenTelemetry export of every session, on when an OTLP endpoint is configured
 * (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`). The SDK loads only then, and
 * asynchronously, so updates that arrive before it is ready are held and replayed in order.
 */
export function createTelemetry(env: Readonly<Record<string, string | undefined>>, redact?: (text: string) => string): Telemetry | null {
  const configured = (env.OTEL_EXPORTER_OTLP_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? '') !== '' && env.OTEL_SDK_DISABLED !== 'true';
  if (!configured) return null;
  let tracer: LiveTracer | null = null;
  let traceExport: TraceExport | null = null;
  // Held until the SDK has loaded, in arrival order: preloaded journals, live updates, and MCP call attributes.
  type McpRecord = { readonly sessionId: string; readonly callId: string; readonly attributes: Readonly<Record<string, string | number>> };
  const pending: ({ readonly history: readonly SessionEvent[] } | { readonly update: SessionUpdate } | { readonly mcp: McpRecord })[] = [];
  // Until then, a pure span builder fed the same events answers the MCP client's traceparent questions: span ids
  // are derived from the journal, so they equal the ones the tracer will export.
  let shadow: JournalSpanBuilder | null = new JournalSpanBuilder();
  const stopObservingMcp = observeMcpCalls({
    traceparent: (sessionId, callId) => (tracer === null ? shadow?.toolTraceparent(sessionId, callId) : undefined),
    record: (sessionId, callId, attributes) => {
      if (tracer === null) pending.push({ mcp: { sessionId, callId, attributes } });
    },
  });
  const ready = import('../tracing/otel.ts').then((otel) => {
    traceExport = otel.createTraceExport({ env, ...(redact === undefined ? {} : { policy: { redact } }) });
    tracer = otel.createLiveTracer(traceExport, {
      onError: (error) => process.emitWarning(`Keel tracing: ${error instanceof Error ? error.message : String(error)}`),
      modelEndpoint: modelEndpointFromEnv(env),
    });
    for (const item of pending.splice(0)) {
      if ('history' in item) tracer.preload(item.history);
      else if ('mcp' in item) tracer.annotateToolCall(item.mcp.sessionId, item.mcp.callId, item.mcp.attributes);
      else tracer.observe(item.update);
    }
    shadow = null;
  });
  return {
    observe(update) {
      if (tracer !== null) {
        tracer.observe(update);
        return;
      }
      pending.push({ update });
      const event = (update as { readonly event?: SessionEvent }).event;
      if (event !== undefined) shadow?.push(event);
    },
    preload(history) {
      if (tracer !== null) {
        tracer.preload(history);
        return;
      }
      pending.push({ history });
      for (const event of history) shadow?.push(event);
    },
    async close() {
      await ready;
      stopObservingMcp();
      tracer?.closeOpen();
      await tracer?.shutdown();
      await (traceExport as TraceExport | null)?.shutdown();
    },
  };
}

export interface MetricsRecording {
  readonly observe: (update: SessionUpdate) => void;
  /** A resumed session's earlier events: its figures continue from them without counting them again. */
  preload(events: readonly SessionEvent[]): void;
  /** The runtime's instruments, once the SDK has loaded. */
  readonly metrics: Promise<KeelMetrics>;
  close(): Promise<void>;
}

/**
 * The session metrics every runtime records (pushed over OTLP when an endpoint is configured, scraped through
 * `KeelMetrics.renderPrometheus`). The SDK loads asynchronously, so updates that arrive before it is ready are held
 * and replayed in order.
 */
export function createMetricsRecording(env: Readonly<Record<string, string | undefined>>, options: Omit<KeelMetricsOptions, 'env'> = {}): MetricsRecording {
  let loaded: KeelMetrics | null = null;
  // Set when the metrics could not start (an invalid OTLP endpoint): sessions run on, nothing is held for them.
  let failed = false;
  const pending: ({ readonly history: readonly SessionEvent[] } | { readonly update: SessionUpdate })[] = [];
  const metrics = import('../tracing/metrics.ts').then((module) => {
    const created = module.createKeelMetrics({ ...options, env });
    for (const item of pending.splice(0)) {
      if ('history' in item) created.preload(item.history);
      else created.observe(item.update);
    }
    loaded = created;
    return created;
  });
  metrics.catch((error: unknown) => {
    failed = true;
    pending.length = 0;
    process.emitWarning(`Keel metrics are off: ${error instanceof Error ? error.message : String(error)}`);
  });
  return {
    observe(update) {
      if (update.type !== 'event' || failed) return;
      if (loaded === null) pending.push({ update });
      else loaded.observe(update);
    },
    preload(history) {
      if (failed) return;
      if (loaded === null) pending.push({ history });
      else loaded.preload(history);
    },
    metrics,
    async close() {
      const created = await metrics.catch(() => null);
      await created?.shutdown();
    },
  };
}
