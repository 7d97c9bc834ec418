import { describe, expect, it } from 'vitest';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import type { CountingInstrument } from '../../src/tracing/tallied-counter.ts';
import { talliedCounter } from '../../src/tracing/tallied-counter.ts';

/** Exports what `record` adds through a counter, as the data points a reader collects: attributes and value. */
async function exported(make: (provider: MeterProvider) => CountingInstrument, record: (counter: CountingInstrument) => void, temporality = AggregationTemporality.CUMULATIVE): Promise<unknown[][]> {
  const exporter = new InMemoryMetricExporter(temporality);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 1_000_000 });
  const provider = new MeterProvider({ readers: [reader] });
  const counter = make(provider);
  const rounds: unknown[][] = [];
  for (let round = 0; round < 2; round += 1) {
    record(counter);
    await reader.forceFlush();
    const metrics = exporter.getMetrics().at(-1)?.scopeMetrics.flatMap((scope) => scope.metrics) ?? [];
    rounds.push(metrics.flatMap((metric) => metric.dataPoints.map((point) => ({ name: metric.descriptor.name, unit: metric.descriptor.unit, monotonic: 'isMonotonic' in metric ? metric.isMonotonic : undefined, attributes: point.attributes, value: point.value }))));
  }
  await provider.shutdown();
  return rounds;
}

describe('talliedCounter', () => {
  const agent = { 'gen_ai.agent.name': 'support' };
  const record = (counter: CountingInstrument): void => {
    // The same object again and again, an equal set built anew in another key order, another set, a rejected value.
    for (let turn = 0; turn < 3; turn += 1) counter.add(1, agent);
    counter.add(2, { 'keel.tool.outcome': 'ok', 'gen_ai.tool.name': 'lookup' });
    counter.add(0.5, { 'gen_ai.tool.name': 'lookup', 'keel.tool.outcome': 'ok' });
    counter.add(-1, agent);
  };
  const options = { unit: '{turn}', description: 'Turns ended.' };

  for (const temporality of [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA]) {
    it(`exports the same points as the SDK's own counter (${temporality === AggregationTemporality.CUMULATIVE ? 'cumulative' : 'delta'})`, async () => {
      const tallied = await exported((provider) => talliedCounter(provider.getMeter('keel'), 'keel.turn.count', options), record, temporality);
      const plain = await exported((provider) => provider.getMeter('keel').createCounter('keel.turn.count', options), record, temporality);
      expect(tallied).toEqual(plain);
      expect(tallied[1]).toContainEqual(expect.objectContaining({ attributes: agent, value: temporality === AggregationTemporality.CUMULATIVE ? 6 : 3 }));
    });
  }
});
