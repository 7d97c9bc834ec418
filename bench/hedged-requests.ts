/**
 * Hedged requests against a slow tail: two mock Anthropic accounts, the first of which answers a share of calls only
 * after a long first-byte delay. The same calls run through a route without and with hedging; the table gives the
 * end-to-end latency percentiles, the hedges started and the tokens counted (a hedge must never count twice).
 *
 *   npx tsx bench/hedged-requests.ts [calls=200] [slowShare=0.1] [slowMs=800]
 */
import { createAnthropicModel } from '../src/model/anthropic-model.ts';
import { createModelRouter } from '../src/model/model-router.ts';
import type { HedgeOptions } from '../src/model/model-router.ts';
import type { ModelRequest } from '../src/spec/model.ts';
import { startMockAnthropicServer } from '../src/testing/mock-anthropic-server.ts';

const calls = Number(process.argv[2] ?? 200);
const slowShare = Number(process.argv[3] ?? 0.1);
const slowMs = Number(process.argv[4] ?? 800);
const request: ModelRequest = { messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello?' }] }], tools: [], maxOutputTokens: 32 };
const answer = { content: [{ type: 'text' as const, text: 'Hello.' }], usage: { input_tokens: 10, output_tokens: 2 } };

/** Every call's fate is drawn once, so both runs meet the same slow calls. */
const slowCalls = new Set<number>();
let seed = 42;
for (let index = 0; index < calls; index += 1) {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  if (seed / 2 ** 31 < slowShare) slowCalls.add(index);
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
}

async function run(hedge: HedgeOptions | undefined): Promise<{ latencies: number[]; hedges: number; inputTokens: number }> {
  let primaryCalls = 0;
  const primary = await startMockAnthropicServer({ script: () => (slowCalls.has(primaryCalls++) ? { fault: 'slow-first-byte', delayMs: slowMs, response: answer } : answer) });
  const secondary = await startMockAnthropicServer({ script: () => answer });
  try {
    const route = createModelRouter({
      name: 'bench',
      entries: [
        { account: 'primary', model: createAnthropicModel({ modelId: 'claude-haiku-4-5', baseURL: primary.baseURL, apiKey: 'key' }) },
        { account: 'secondary', model: createAnthropicModel({ modelId: 'claude-haiku-4-5', baseURL: secondary.baseURL, apiKey: 'key' }) },
      ],
      ...(hedge === undefined ? {} : { hedge }),
    });
    const latencies: number[] = [];
    let hedges = 0;
    let inputTokens = 0;
    const signal = new AbortController().signal;
    for (let index = 0; index < calls; index += 1) {
      const started = performance.now();
      const result = await route.call(request, { signal, streaming: true });
      latencies.push(performance.now() - started);
      hedges += result.attempts?.filter((attempt) => attempt.hedge === true).length ?? 0;
      inputTokens += result.response.usage.inputTokens;
    }
    return { latencies: latencies.sort((left, right) => left - right), hedges, inputTokens };
  } finally {
    await primary.close();
    await secondary.close();
  }
}

const rows: string[] = ['| route | p50 ms | p95 ms | p99 ms | max ms | hedges | input tokens counted |', '|---|---|---|---|---|---|---|'];
for (const [label, hedge] of [
  ['no hedging', undefined],
  ['hedge at p90', { percentile: 90, minSamples: 20, minDelayMs: 20 }],
] as const) {
  const { latencies, hedges, inputTokens } = await run(hedge);
  rows.push(`| ${label} | ${percentile(latencies, 50).toFixed(1)} | ${percentile(latencies, 95).toFixed(1)} | ${percentile(latencies, 99).toFixed(1)} | ${(latencies.at(-1) ?? 0).toFixed(1)} | ${hedges} | ${inputTokens} |`);
}
console.log(`${calls} sequential streamed calls; ${slowCalls.size} of them (drawn at ${(slowShare * 100).toFixed(0)} %) wait ${slowMs} ms for a first byte on the primary account.\n`);
console.log(rows.join('\n'));
