import type { SessionUpdate } from '../loop/index.ts';
import type { SessionEvent } from '../spec/events.ts';
import type { LiveTracer, TraceExport } from '../tracing/otel.ts';
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
  // Held until the SDK has loaded, in arrival order: preloaded journals and live updates.
  const pending: ({ readonly history: readonly SessionEvent[] } | { readonly update: SessionUpdate })[] = [];
  const ready = import('../tracing/otel.ts').then((otel) => {
    traceExport = otel.createTraceExport({ env, ...(redact === undefined ? {} : { policy: { redact } }) });
    tracer = otel.createLiveTracer(traceExport, {
      onError: (error) => process.emitWarning(`Keel tracing: ${error instanceof Error ? error.message : String(error)}`),
      modelEndpoint: modelEndpointFromEnv(env),
    });
    for (const item of pending.splice(0)) {
      if ('history' in item) tracer.preload(item.history);
      else tracer.observe(item.update);
    }
  });
  return {
    observe(update) {
      if (tracer === null) pending.push({ update });
      else tracer.observe(update);
    },
    preload(history) {
      if (tracer === null) pending.push({ history });
      else tracer.preload(history);
    },
    async close() {
      await ready;
      tracer?.closeOpen();
      await tracer?.shutdown();
      await (traceExport as TraceExport | null)?.shutdown();
    },
  };
}
