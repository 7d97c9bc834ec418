import { resourceFromAttributes } from '@opentelemetry/resources';
import type { Resource } from '@opentelemetry/resources';

/** The semantic-conventions release whose GenAI names the spans follow (wire/otel-genai.md). */
export const semanticConventionsSchemaUrl = 'https://opentelemetry.io/schemas/1.41.0';
export const instrumentationScope = { name: 'keel', version: '0.1.0', schemaUrl: semanticConventionsSchemaUrl } as const;

type Env = Readonly<Record<string, string | undefined>>;

/** `k1=v1,k2=v2` with percent-encoded values, as OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES are written. */
export function keyValuePairs(raw: string | undefined): Record<string, string> {
  const pairs: Record<string, string> = {};
  if (raw === undefined) return pairs;
  for (const entry of raw.split(',')) {
    const index = entry.indexOf('=');
    if (index <= 0) continue;
    const key = entry.slice(0, index).trim();
    const value = entry.slice(index + 1).trim();
    try {
      pairs[key] = decodeURIComponent(value);
    } catch {
      pairs[key] = value;
    }
  }
  return pairs;
}

/** The resource of Keel's spans and metrics: `OTEL_RESOURCE_ATTRIBUTES`, then `service.name` (argument, `OTEL_SERVICE_NAME`, `keel`). */
export function createResource(env: Env, serviceName?: string): Resource {
  return resourceFromAttributes({
    ...keyValuePairs(env.OTEL_RESOURCE_ATTRIBUTES),
    'service.name': serviceName ?? (env.OTEL_SERVICE_NAME?.trim() || undefined) ?? 'keel',
    'telemetry.sdk.name': 'keel',
    'telemetry.sdk.language': 'nodejs',
    'telemetry.sdk.version': instrumentationScope.version,
  });
}
