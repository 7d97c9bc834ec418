import type { SessionUpdate } from '../loop/index.ts';
import type { LiveTracer, TraceExport } from '../tracing/otel.ts';

export interface Telemetry {
  readonly observe: (update: SessionUpdate) => void;
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
  const pending: SessionUpdate[] = [];
  const ready = import('../tracing/otel.ts').then((otel) => {
    traceExport = otel.createTraceExport({ env, ...(redact === undefined ? {} : { policy: { redact } }) });
    tracer = otel.createLiveTracer(traceExport, { onError: (error) => process.emitWarning(`Keel tracing: ${error instanceof Error ? error.message : String(error)}`) });
    for (const update of pending.splice(0)) tracer.observe(update);
  });
  return {
    observe(update) {
      if (tracer === null) pending.push(update);
      else tracer.observe(update);
    },
    async close() {
      await ready;
      tracer?.closeOpen();
      await tracer?.shutdown();
      await (traceExport as TraceExport | null)?.shutdown();
    },
  };
}
