// Context assembly for a 200-turn history (summarization calls excluded): `npx tsx bench/context-assembly.ts`.
// Target: under 5 ms per assembly. Cold = first assembly in the process (includes loading the o200k encoding).
import { performance } from 'node:perf_hooks';
import { planContext } from '../src/context/plan-context.ts';
import type { PlanContextInput } from '../src/context/plan-context.ts';
import type { Message } from '../src/spec/message.ts';
import type { ToolSpec } from '../src/spec/model.ts';
import { createBoundary } from '../src/context/trust-layout.ts';

function words(count: number, seed: number): string {
  const out: string[] = [];
  for (let index = 0; index < count; index += 1) out.push(`w${(seed * 31 + index * 7) % 997}`);
  return out.join(' ');
}

const messages: Message[] = [{ role: 'user', content: [{ type: 'text', text: 'Reconcile the March invoices.' }] }];
for (let turn = 0; turn < 200; turn += 1) {
  if (turn % 3 === 2) {
    messages.push({ role: 'assistant', content: [{ type: 'text', text: words(60, turn) }] });
    messages.push({ role: 'user', content: [{ type: 'text', text: words(30, turn + 1) }] });
  } else {
    const id = `call_${turn}`;
    messages.push({ role: 'assistant', content: [{ type: 'text', text: 'Looking it up.' }, { type: 'tool_use', id, name: 'lookup', input: { key: id } }] });
    messages.push({ role: 'user', content: [{ type: 'tool_result', toolUseId: id, content: words(800 + (turn % 5) * 100, turn), isError: false }] });
  }
}
const tools: ToolSpec[] = [{ name: 'lookup', description: 'Look a key up.', inputSchema: { type: 'object', properties: { key: { type: 'string' } } } }];
const input: PlanContextInput = {
  system: 'You are a careful bookkeeping agent.',
  messages,
  tools,
  maxOutputTokens: 1_000,
  model: { provider: 'openai', modelId: 'gpt-4o' },
  turn: 201,
  maxTurns: 300,
  boundary: createBoundary(),
  config: { window: { contextWindow: 16_000, maxOutputTokens: 4_000 } },
};

const coldStart = performance.now();
const first = await planContext({ ...input, summarize: async (_messages, info) => `summary of ${info.from}-${info.to}` });
const coldMs = performance.now() - coldStart;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}
const runs: Record<string, number[]> = { 'sliding window only': [], 'with journaled summaries': [] };
for (let repetition = 0; repetition < 200; repetition += 1) {
  let started = performance.now();
  await planContext(input);
  (runs['sliding window only'] as number[]).push(performance.now() - started);
  started = performance.now();
  await planContext({ ...input, summaries: first.newSummaries });
  (runs['with journaled summaries'] as number[]).push(performance.now() - started);
}
console.log(`history: ${messages.length} messages, 200 turns; window 16,000; request ${first.tokens.total} tokens (${(first.utilization * 100).toFixed(1)} %)`);
console.log(`cold (first assembly, loads o200k, counts everything, ${first.newSummaries.length} fake summaries): ${coldMs.toFixed(1)} ms`);
for (const [name, values] of Object.entries(runs)) {
  const p95 = [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.95)] as number;
  console.log(`warm ${name}: median ${median(values).toFixed(2)} ms, p95 ${p95.toFixed(2)} ms (target < 5 ms)`);
}
