/**
 * The content type of Prometheus text exposition format 0.0.4. In a file of its own so that the HTTP server can name
 * it without loading the OpenTelemetry SDK that metrics.ts imports (loaded only where metrics are wired).
 */
export const prometheusContentType = 'text/plain; version=0.0.4; charset=utf-8';
