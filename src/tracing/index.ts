export { buildTraceTree } from './trace-tree.ts';
export type { TraceTree, TraceTurn, TraceModelCall, TraceToolCall, TraceChild } from './trace-tree.ts';
export { renderTraceTree } from './render-trace-tree.ts';
export type { TraceRouting } from './trace-routing.ts';
// Pure mappings from the journal (no OpenTelemetry SDK loaded). The SDK-bound parts (OTLP export, live tracer,
// MeterProvider, Prometheus text) are in './otel.ts', imported only where telemetry is wired: loading the SDK and
// the OTLP exporters costs about 300 ms at startup.
export { JournalSpanBuilder, buildSpans, spanIdFor, traceIdFor, resolveContentPolicy, conventionInputTokens } from './journal-spans.ts';
export type { SpanModel, SpanEventModel, SpanAttributes, SpanAttributeValue, SpanContentPolicy, ResolvedContentPolicy, ParentContext, SpanBuilderOptions, BuildSpansOptions } from './journal-spans.ts';
export { computeSessionMetrics, SessionMetricsFold } from './session-metrics.ts';
export type { SessionMetrics, TurnMetrics, CompletionStatus } from './session-metrics.ts';
export { detectAnomalies, AnomalyDetector, defaultAnomalyThresholds, resolveAnomalyThresholds } from './anomalies.ts';
export type { AnomalyThresholds, ResolvedAnomalyThresholds, AnomalyBody } from './anomalies.ts';
