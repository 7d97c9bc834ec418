// The OpenTelemetry-bound half of tracing: OTLP/HTTP span export, the live tracer, metrics on a MeterProvider
// and their Prometheus text. Import this module only where telemetry is wired (server, CLI): it loads the SDK.
export { createTraceExport, createLiveTracer, exportJournal, toReadableSpan, hrTimeFromMilliseconds, resolveTracesEndpoint } from './span-exporter.ts';
export { createResource, semanticConventionsSchemaUrl, instrumentationScope } from './otel-resource.ts';
export type { TraceExport, TraceExportOptions, LiveTracer, LiveTracerOptions, TracedUpdate } from './span-exporter.ts';
export { createKeelMetrics, PrometheusTextReader, resolveMetricsEndpoint, tokenBuckets, durationBuckets } from './metrics.ts';
export type { KeelMetrics, KeelMetricsOptions } from './metrics.ts';
export { prometheusContentType } from './metrics.ts';
