import { DataPointType } from '@opentelemetry/sdk-metrics';
import type { DataPoint, Histogram, MetricData, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Attributes } from '@opentelemetry/api';

/**
 * OpenTelemetry metric data in the Prometheus text exposition format (version 0.0.4), following the
 * OpenTelemetry → Prometheus compatibility rules: names and label names sanitised to `[a-zA-Z0-9_:]`, a unit
 * suffix (`s` → `_seconds`, `{…}` annotations dropped), `_total` on monotonic sums, cumulative `le` buckets with
 * `+Inf`, `_sum` and `_count` on histograms. Exponential histograms are skipped (Keel records none).
 */
export const prometheusContentType = 'text/plain; version=0.0.4; charset=utf-8';

const unitSuffixes: Readonly<Record<string, string>> = {
  s: 'seconds',
  ms: 'milliseconds',
  us: 'microseconds',
  ns: 'nanoseconds',
  min: 'minutes',
  h: 'hours',
  d: 'days',
  By: 'bytes',
  KiBy: 'kibibytes',
  MiBy: 'mebibytes',
  '%': 'percent',
  USD: 'usd',
};

function sanitizeName(name: string): string {
  let cleaned = name.replace(/[^a-zA-Z0-9_:]/g, '_').replace(/__+/g, '_');
  if (/^[0-9]/.test(cleaned)) cleaned = `_${cleaned}`;
  return cleaned;
}

function sanitizeLabel(name: string): string {
  let cleaned = name.replace(/[^a-zA-Z0-9_]/g, '_').replace(/__+/g, '_');
  if (/^[0-9]/.test(cleaned)) cleaned = `_${cleaned}`;
  return cleaned;
}

/** The Prometheus metric family name of an OpenTelemetry metric (without `_bucket`/`_sum`/`_count`). */
export function prometheusName(metric: MetricData): string {
  let name = sanitizeName(metric.descriptor.name);
  const unit = metric.descriptor.unit.replace(/\{[^}]*\}/g, '').trim();
  let suffix: string | undefined;
  if (unit === '1') suffix = metric.dataPointType === DataPointType.GAUGE ? 'ratio' : undefined;
  else if (unit !== '') suffix = unitSuffixes[unit] ?? sanitizeLabel(unit.replace('/', '_per_')).toLowerCase();
  if (suffix !== undefined && suffix !== '' && !name.endsWith(`_${suffix}`)) name = `${name}_${suffix}`;
  if (metric.dataPointType === DataPointType.SUM && metric.isMonotonic && !name.endsWith('_total')) name = `${name}_total`;
  return name;
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function labelValue(value: unknown): string {
  if (Array.isArray(value)) return JSON.stringify(value);
  return String(value);
}

function compare(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}

function labels(attributes: Attributes, extra: readonly (readonly [string, string])[] = []): string {
  const pairs: [string, string][] = Object.entries(attributes)
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([key, value]) => [sanitizeLabel(key), labelValue(value)]);
  pairs.sort(([left], [right]) => compare(left, right));
  const all = [...pairs, ...extra];
  if (all.length === 0) return '';
  return `{${all.map(([key, value]) => `${key}="${escapeLabelValue(value)}"`).join(',')}}`;
}

function typeOf(metric: MetricData): 'counter' | 'gauge' | 'histogram' | null {
  switch (metric.dataPointType) {
    case DataPointType.SUM:
      return metric.isMonotonic ? 'counter' : 'gauge';
    case DataPointType.GAUGE:
      return 'gauge';
    case DataPointType.HISTOGRAM:
      return 'histogram';
    default:
      return null;
  }
}

function histogramLines(name: string, point: DataPoint<Histogram>): string[] {
  const lines: string[] = [];
  const { boundaries, counts } = point.value.buckets;
  let cumulative = 0;
  boundaries.forEach((boundary, index) => {
    cumulative += counts[index] ?? 0;
    lines.push(`${name}_bucket${labels(point.attributes, [['le', formatNumber(boundary)]])} ${cumulative}`);
  });
  lines.push(`${name}_bucket${labels(point.attributes, [['le', '+Inf']])} ${point.value.count}`);
  lines.push(`${name}_sum${labels(point.attributes)} ${formatNumber(point.value.sum ?? 0)}`);
  lines.push(`${name}_count${labels(point.attributes)} ${point.value.count}`);
  return lines;
}

/** Renders collected metrics; families sorted by name, series by labels, so equal data gives equal text. */
export function renderPrometheus(collected: ResourceMetrics | readonly ResourceMetrics[]): string {
  const families = new Map<string, { help: string; type: 'counter' | 'gauge' | 'histogram'; samples: string[] }>();
  const list: readonly ResourceMetrics[] = Array.isArray(collected) ? collected : [collected as ResourceMetrics];
  for (const resourceMetrics of list) {
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        const type = typeOf(metric);
        if (type === null) continue;
        const name = prometheusName(metric);
        let family = families.get(name);
        if (family === undefined) {
          family = { help: metric.descriptor.description || metric.descriptor.name, type, samples: [] };
          families.set(name, family);
        }
        if (family.type !== type) continue;
        if (metric.dataPointType === DataPointType.HISTOGRAM) {
          const points = [...metric.dataPoints].sort((left, right) => compare(labels(left.attributes), labels(right.attributes)));
          for (const point of points) family.samples.push(...histogramLines(name, point));
        } else if (metric.dataPointType === DataPointType.SUM || metric.dataPointType === DataPointType.GAUGE) {
          const points = [...metric.dataPoints].sort((left, right) => compare(labels(left.attributes), labels(right.attributes)));
          for (const point of points) family.samples.push(`${name}${labels(point.attributes)} ${formatNumber(point.value)}`);
        }
      }
    }
  }
  const lines: string[] = [];
  for (const name of [...families.keys()].sort()) {
    const family = families.get(name);
    if (family === undefined || family.samples.length === 0) continue;
    lines.push(`# HELP ${name} ${escapeHelp(family.help)}`);
    lines.push(`# TYPE ${name} ${family.type}`);
    lines.push(...family.samples);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}
