// `npx tsx bench/tracing-overhead.ts [--sessions N] [--reps N]`: the per-turn cost of turning the journal into
// telemetry as it is written, on a scripted 10-turn session (nine turns that call a tool, one that answers) with
// the in-memory journal and a model double that answers at once, so that the loop itself is as cheap as it gets
// and the tracing share is as large as it can be. Variants, each run in every repetition, in rotating order:
//
//   none            no onUpdate at all
//   observe-noop    an onUpdate that does nothing (the cost of the update stream itself)
//   spans-memory    live spans, SimpleSpanProcessor → InMemorySpanExporter (ReadableSpan conversion and export)
//   spans-otlp      live spans, BatchSpanProcessor → OTLP/HTTP JSON to a local receiver (flushed at the end of each rep)
//   metrics         the MeterProvider instruments, recorded live
//   anomalies       the incremental AnomalyDetector
//   all             spans-otlp + metrics + anomalies
//
// It prints the median over repetitions of the mean time per session and per turn, and the difference to `none`.
// Not a test: it prints numbers.
import { spawn } from 'node:child_process';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { z } from 'zod';
import { defineAgent, startSession } from '../src/loop/index.ts';
import type { LoopDependencies, ModelCaller, SessionUpdate } from '../src/loop/index.ts';
import type { ModelResponse } from '../src/spec/index.ts';
import { createMemoryBlobStore, createMemoryJournal } from '../src/store/index.ts';
import { defineTool } from '../src/tools/index.ts';
import type { SessionEvent } from '../src/spec/index.ts';
import { AnomalyDetector, buildSpans } from '../src/tracing/index.ts';
import { createKeelMetrics, createLiveTracer, createResource, createTraceExport, toReadableSpan } from '../src/tracing/otel.ts';
import type { KeelMetrics, LiveTracer } from '../src/tracing/otel.ts';
import { systemClock } from '../src/util/index.ts';

const turnsPerSession = 10;

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const raw = index < 0 ? undefined : process.argv[index + 1];
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} needs a positive integer`);
  return value;
}

const sessions = option('sessions', 200);
const reps = option('reps', 5);

/** A model double: nine tool calls, then an answer; no latency. */
const model: ModelCaller = {
  provider: 'bench',
  modelId: 'bench-model',
  async call(request) {
    const index = request.messages.filter((message) => message.role === 'assistant').length;
    const done = index >= turnsPerSession - 1;
    const response: ModelResponse = {
      id: `msg_${index}`,
      model: 'bench-model',
      content: done ? [{ type: 'text', text: 'done' }] : [{ type: 'text', text: 'looking' }, { type: 'tool_use', id: `call_${index}`, name: 'lookup', input: { q: `term ${index}` } }],
      stopReason: done ? 'end_turn' : 'tool_use',
      providerStopReason: done ? 'end_turn' : 'tool_use',
      usage: { inputTokens: 1000 + index * 100, outputTokens: 50, cacheReadTokens: 200, cacheWriteTokens: 0 },
    };
    return { response, retries: 0, latencyMs: 1 };
  },
};

const lookup = defineTool({ name: 'lookup', description: 'Looks a term up', input: z.object({ q: z.string() }), risk: 'read', execute: ({ q }) => `definition of ${q}` });
const agent = defineAgent({ name: 'bench', instructions: 'Look things up.', tools: [lookup], streaming: false, limits: { maxTurns: 50 } });

function dependencies(): LoopDependencies {
  return { journal: createMemoryJournal(), blobs: createMemoryBlobStore(), model, clock: systemClock, price: (usage) => (usage.inputTokens * 3 + usage.outputTokens * 15) / 1_000_000 };
}

interface Variant {
  readonly name: string;
  /** Builds the per-rep telemetry; returns the onUpdate (or none) and a finisher run after the timed loop. */
  setup(): { readonly onUpdate: ((update: SessionUpdate) => void) | undefined; readonly finish: () => Promise<void>; readonly flushInside?: () => Promise<void> };
}

/** The OTLP receiver runs in a child process, so that parsing what it receives does not count as Keel's cost. */
const receiverScript = `
const { createServer } = require('node:http');
let count = 0;
const server = createServer((request, response) => {
  if (request.method === 'GET') { response.end(String(count)); return; }
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    for (const resource of body.resourceSpans ?? []) for (const scope of resource.scopeSpans) count += scope.spans.length;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{}');
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;

async function startReceiver(): Promise<{ url: string; spans: () => Promise<number>; close: () => void }> {
  const child = spawn(process.execPath, ['-e', receiverScript], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    spans: async () => Number(await (await fetch(url)).text()),
    close: () => void child.kill(),
  };
}

async function main(): Promise<void> {
  const receiver = await startReceiver();
  // A queue large enough that no span is dropped: the batch processor drops spans when sessions outrun the exporter,
  // which a zero-latency model does and a real one does not; dropped spans would make OTLP look free.
  const otlpEnv = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_MAX_QUEUE_SIZE: '1000000' };
  const variants: Variant[] = [
    { name: 'none', setup: () => ({ onUpdate: undefined, finish: async () => undefined }) },
    { name: 'observe-noop', setup: () => ({ onUpdate: () => undefined, finish: async () => undefined }) },
    {
      name: 'spans-memory',
      setup: () => {
        const exporter = new InMemorySpanExporter();
        const tracer = createLiveTracer(createTraceExport({ env: {}, exporter }));
        return { onUpdate: tracer.observe, finish: () => tracer.shutdown() };
      },
    },
    {
      name: 'spans-otlp',
      setup: () => {
        const tracer = createLiveTracer(createTraceExport({ env: otlpEnv }));
        return { onUpdate: tracer.observe, finish: () => tracer.shutdown(), flushInside: () => tracer.forceFlush() };
      },
    },
    {
      name: 'metrics',
      setup: () => {
        const metrics = createKeelMetrics({ env: {} });
        return { onUpdate: metrics.observe, finish: () => metrics.shutdown() };
      },
    },
    {
      name: 'anomalies',
      setup: () => {
        const detectors = new Map<string, AnomalyDetector>();
        return {
          onUpdate: (update) => {
            if (update.type !== 'event') return;
            let detector = detectors.get(update.event.sessionId);
            if (detector === undefined) detectors.set(update.event.sessionId, (detector = new AnomalyDetector()));
            detector.push(update.event);
          },
          finish: async () => undefined,
        };
      },
    },
    {
      name: 'all',
      setup: () => {
        const tracer: LiveTracer = createLiveTracer(createTraceExport({ env: otlpEnv }));
        const metrics: KeelMetrics = createKeelMetrics({ env: {} });
        const detector = new AnomalyDetector();
        return {
          onUpdate: (update) => {
            tracer.observe(update);
            metrics.observe(update);
            if (update.type === 'event') detector.push(update.event);
          },
          finish: async () => {
            await tracer.shutdown();
            await metrics.shutdown();
          },
          flushInside: () => tracer.forceFlush(),
        };
      },
    },
  ];

  const runSessions = async (count: number, onUpdate: ((update: SessionUpdate) => void) | undefined): Promise<void> => {
    const deps = dependencies();
    for (let index = 0; index < count; index += 1) {
      const run = startSession(agent, deps, { input: 'look things up', ...(onUpdate === undefined ? {} : { onUpdate }) });
      const result = await run.result;
      if (result.status !== 'completed' || result.turns !== turnsPerSession) throw new Error(`a session ended ${result.status} after ${result.turns} turns`);
    }
  };

  // Warm-up: every variant once.
  for (const variant of variants) {
    const { onUpdate, finish } = variant.setup();
    await runSessions(20, onUpdate);
    await finish();
  }

  const perSession = new Map<string, number[]>(variants.map((variant) => [variant.name, []]));
  for (let rep = 0; rep < reps; rep += 1) {
    const order = variants.map((_, index) => variants[(index + rep) % variants.length] as Variant);
    for (const variant of order) {
      const { onUpdate, finish, flushInside } = variant.setup();
      const started = performance.now();
      await runSessions(sessions, onUpdate);
      // The export of batched spans is part of the cost: the last batch is flushed inside the timed section.
      await flushInside?.();
      const elapsed = performance.now() - started;
      await finish();
      perSession.get(variant.name)?.push(elapsed / sessions);
    }
  }
  // Time per span, outside the loop: steadier than the differences above on a busy machine.
  const sample = await (async (): Promise<SessionEvent[]> => {
    const deps = dependencies();
    const run = startSession(agent, deps, { input: 'look things up' });
    await run.result;
    const events: SessionEvent[] = [];
    for await (const event of deps.journal.read(run.sessionId)) events.push(event);
    return events;
  })();
  const micro = async (label: string, count: number, body: () => Promise<void> | void): Promise<string> => {
    for (let index = 0; index < Math.ceil(count / 10); index += 1) await body();
    const started = performance.now();
    for (let index = 0; index < count; index += 1) await body();
    return `${label}: ${(((performance.now() - started) / count) * 1000).toFixed(2)} µs`;
  };
  const sampleSpans = buildSpans(sample);
  const resource = createResource({});
  const readable = sampleSpans.map((span) => toReadableSpan(span, resource));
  const otlp = createTraceExport({ env: otlpEnv });
  const microLines = [
    await micro(`journal → span model, per span (${sample.length} events → ${sampleSpans.length} spans)`, 2000, () => void buildSpans(sample)).then((line) => line.replace(/([0-9.]+) µs$/, (_, value: string) => `${(Number(value) / sampleSpans.length).toFixed(2)} µs`)),
    await micro('span model → ReadableSpan, per span', 2000, () => {
      for (const span of sampleSpans) toReadableSpan(span, resource);
    }).then((line) => line.replace(/([0-9.]+) µs$/, (_, value: string) => `${(Number(value) / sampleSpans.length).toFixed(2)} µs`)),
    await micro('OTLP/HTTP JSON export of a 40-span batch to the local receiver, per span', 300, () => new Promise<void>((resolve) => otlp.exporter?.export(readable, () => resolve()))).then((line) => line.replace(/([0-9.]+) µs$/, (_, value: string) => `${(Number(value) / readable.length).toFixed(2)} µs`)),
  ];
  await otlp.shutdown();

  const spansReceived = (await receiver.spans()) - 330 * readable.length;
  const spansExpected = 2 * (20 + reps * sessions) * 40;
  if (spansReceived !== spansExpected) throw new Error(`the OTLP receiver got ${spansReceived} spans, expected ${spansExpected}: spans were dropped`);
  receiver.close();

  const median = (values: readonly number[]): number => {
    const sorted = [...values].sort((left, right) => left - right);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
  };
  const baseline = median(perSession.get('none') ?? []);
  console.log(`tracing overhead: ${sessions} sessions × ${turnsPerSession} turns per variant, ${reps} repetitions, Node ${process.version}`);
  console.log(`(spans per session: 1 invoke_agent + 10 turns + 10 context + 10 chat + 9 execute_tool = 40; OTLP receiver got ${spansReceived} spans in all)`);
  console.log('');
  console.log('variant        per session   per turn   vs none (per turn)   min..max per turn');
  for (const variant of variants) {
    const values = perSession.get(variant.name) ?? [];
    const sessionMs = median(values);
    const turnUs = (sessionMs / turnsPerSession) * 1000;
    const deltaUs = ((sessionMs - baseline) / turnsPerSession) * 1000;
    const minUs = (Math.min(...values) / turnsPerSession) * 1000;
    const maxUs = (Math.max(...values) / turnsPerSession) * 1000;
    console.log(
      `${variant.name.padEnd(14)} ${`${sessionMs.toFixed(3)} ms`.padStart(11)}   ${`${turnUs.toFixed(1)} µs`.padStart(8)}   ${`${deltaUs >= 0 ? '+' : ''}${deltaUs.toFixed(1)} µs (${((deltaUs / ((baseline / turnsPerSession) * 1000)) * 100).toFixed(1)} %)`.padStart(18)}   ${minUs.toFixed(1)}..${maxUs.toFixed(1)} µs`,
    );
  }
  console.log('');
  console.log('Time per span, measured alone (the OTLP line is wall time, the round trip to the receiver included):');
  for (const line of microLines) console.log(`  ${line}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
