import { describe, expect, it } from 'vitest';
import { ExportResultCode } from '@opentelemetry/core';
import { LowMemoryTemporalitySelector } from '@opentelemetry/exporter-metrics-otlp-http';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { CountingInstrument } from '../../src/tracing/tallied-counter.ts';
import { talliedCounter } from '../../src/tracing/tallied-counter.ts';

/** The points a reader exports over rounds: each round records something (or nothing) and then collects. */
async function exported(make: (provider: MeterProvider) => CountingInstrument, rounds: ((counter: CountingInstrument) => void)[], temporality: AggregationTemporality): Promise<unknown[][]> {
  return exportedBy(new InMemoryMetricExporter(temporality), make, rounds);
}

/** An exporter that asks for temporality as the OTLP exporter does with OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE=lowmemory. */
class LowMemoryExporter implements PushMetricExporter {
  private exported: ResourceMetrics[] = [];
  export(metrics: ResourceMetrics, done: (result: { code: ExportResultCode }) => void): void {
    this.exported.push(metrics);
    done({ code: ExportResultCode.SUCCESS });
  }
  selectAggregationTemporality = LowMemoryTemporalitySelector;
  getMetrics(): ResourceMetrics[] { return this.exported; }
  reset(): void { this.exported = []; }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

async function exportedBy(exporter: InMemoryMetricExporter | LowMemoryExporter, make: (provider: MeterProvider) => CountingInstrument, rounds: ((counter: CountingInstrument) => void)[]): Promise<unknown[][]> {
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 1_000_000 });
  const provider = new MeterProvider({ readers: [reader] });
  const counter = make(provider);
  const points: unknown[][] = [];
  for (const round of rounds) {
    round(counter);
    exporter.reset();
    await reader.forceFlush();
    const metrics = exporter.getMetrics().flatMap((resource) => resource.scopeMetrics).flatMap((scope) => scope.metrics);
    points.push(metrics.flatMap((metric) => metric.dataPoints.map((point) => ({ name: metric.descriptor.name, temporality: metric.aggregationTemporality, attributes: point.attributes, value: point.value }))));
  }
  await provider.shutdown();
  return points;
}

const options = { unit: '{session}', description: 'Sessions ended.' };
const support = { 'gen_ai.agent.name': 'support', 'keel.session.completion': 'success' };
const billing = { 'gen_ai.agent.name': 'billing', 'keel.session.completion': 'success' };
// A session of agent "support" ends, then only sessions of "billing" end, then nothing ends at all.
const rounds = [(counter: CountingInstrument) => counter.add(1, support), (counter: CountingInstrument) => counter.add(1, billing), () => undefined];

describe('tallied counters against the SDK counter over collections where a series stops changing (probe H5)', () => {
  for (const temporality of [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA]) {
    it(`exports the same points (${temporality === AggregationTemporality.CUMULATIVE ? 'cumulative' : 'delta'})`, async () => {
      const plain = await exported((provider) => provider.getMeter('keel').createCounter('keel.session.count', options), rounds, temporality);
      const tallied = await exported((provider) => talliedCounter(provider.getMeter('keel'), 'keel.session.count', options), rounds, temporality);
      expect(tallied).toEqual(plain);
    });
  }

  it('exports the same points under the OTLP exporter\'s lowmemory temporality preference', async () => {
    const plain = await exportedBy(new LowMemoryExporter(), (provider) => provider.getMeter('keel').createCounter('keel.session.count', options), rounds);
    const tallied = await exportedBy(new LowMemoryExporter(), (provider) => talliedCounter(provider.getMeter('keel'), 'keel.session.count', options), rounds);
    expect(tallied).toEqual(plain);
  });
});
