import { ExportResultCode } from '@opentelemetry/core';
import { LowMemoryTemporalitySelector } from '@opentelemetry/exporter-metrics-otlp-http';
import { AggregationTemporality, InMemoryMetricExporter, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { AggregationTemporalitySelector, PushMetricExporter, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { sampleSession } from '../../src/testing/contracts/journal-samples.ts';
import { createKeelMetrics } from '../../src/tracing/metrics.ts';

/** An exporter that keeps what it is given and asks for temporality as `selector` does. */
class KeepingExporter implements PushMetricExporter {
  exported: ResourceMetrics[] = [];
  readonly selectAggregationTemporality: AggregationTemporalitySelector;
  constructor(selector: AggregationTemporalitySelector) {
    this.selectAggregationTemporality = selector;
  }
  export(metrics: ResourceMetrics, done: (result: { code: ExportResultCode }) => void): void {
    this.exported.push(metrics);
    done({ code: ExportResultCode.SUCCESS });
  }
  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

/** The keel.session.count points of each collection: one session ends before the first, none before the second. */
async function sessionCountRounds(exporter: KeepingExporter | InMemoryMetricExporter): Promise<{ temporality: AggregationTemporality; value: unknown }[][]> {
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 1_000_000 });
  const metrics = createKeelMetrics({ env: {}, otlp: false, readers: [reader] });
  const rounds: { temporality: AggregationTemporality; value: unknown }[][] = [];
  for (const events of [sampleSession('ses_a'), []]) {
    metrics.recordJournal(events);
    const exported = exporter instanceof KeepingExporter ? exporter.exported : exporter.getMetrics();
    exported.splice(0);
    await reader.forceFlush();
    const found = exported.flatMap((resource) => resource.scopeMetrics).flatMap((scope) => scope.metrics).filter((metric) => metric.descriptor.name === 'keel.session.count');
    rounds.push(found.flatMap((metric) => metric.dataPoints.map((point) => ({ temporality: metric.aggregationTemporality, value: point.value }))));
  }
  await metrics.meterProvider.shutdown();
  return rounds;
}

// Regression guard for the tallied (observable) counters of 4f38e5f, reverted in 1b3239e: a counter must stay a
// counter at export, whatever the reader's temporality.
describe('Keel\'s metric counters at export under delta temporality (probe H5)', () => {
  it('export no point for a series with nothing new since the last collection', async () => {
    const rounds = await sessionCountRounds(new InMemoryMetricExporter(AggregationTemporality.DELTA));
    expect(rounds).toEqual([[{ temporality: AggregationTemporality.DELTA, value: 1 }], []]);
  });

  it("are delta under the OTLP exporter's lowmemory preference, as counters are", async () => {
    const rounds = await sessionCountRounds(new KeepingExporter(LowMemoryTemporalitySelector));
    expect(rounds).toEqual([[{ temporality: AggregationTemporality.DELTA, value: 1 }], []]);
  });
});
