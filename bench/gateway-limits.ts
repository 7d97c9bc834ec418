// The gateway's rate limiter under a burst: N sessions start at once on one provider account whose limits are half of
// what the sessions ask for, against the mock Anthropic server enforcing those limits (token buckets; 429 with
// retry-after). The demand is measured first: the same N sessions on an account without limits; what they used per
// minute (all of it, when this machine runs them in under a minute) sets the limits at half. Three runs: no limiter (the gateway's retries only), the limiter with the account's limits configured,
// and the limiter learning the limits from the provider's headers. Reported: completion time, sessions completed and
// failed, 429s received, and wasted tokens (input sent in refused requests, plus every token of sessions that failed).
//
//   npm run bench:gateway -- [--sessions 1000] [--latency-ms 400] [--json]
import { writeFileSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createAnthropicModel, createKeel, defineAgent, defineTool } from '../src/index.ts';
import type { KeelOptions } from '../src/index.ts';
import type { ProviderLimits } from '../src/spec/provider-limits.ts';
import { createMockRateLimiter, startMockAnthropicServer } from '../src/testing/index.ts';
import type { AnthropicMockReply, MockRateLimitOptions } from '../src/testing/index.ts';

const { values } = parseArgs({ options: { sessions: { type: 'string', default: '1000' }, 'latency-ms': { type: 'string', default: '400' }, json: { type: 'boolean', default: false } } });
const sessions = Number(values.sessions);
const latencyMs = Number(values['latency-ms']);
const maxOutputTokens = 1_024;
const outputPerCall = 150;

const lookup = defineTool({ name: 'lookup', description: 'Looks an order up.', risk: 'read', input: z.object({ id: z.string() }), execute: ({ id }) => `order ${id}: shipped on Monday, carrier DHL, tracking 00340434161234567890` });
const instructions = `You answer questions about orders. ${'Check the order with the lookup tool before you answer; quote the carrier and the tracking number. '.repeat(12)}`;
const agent = defineAgent({ name: 'orders', instructions, tools: [lookup], maxOutputTokensPerCall: maxOutputTokens });

/** Two calls per session: a tool call, then the answer; each takes `latencyMs` and produces `outputPerCall` tokens. */
function script(body: unknown): AnthropicMockReply {
  const messages = (body as { messages: unknown[] }).messages;
  const response =
    messages.length === 1
      ? { content: [{ type: 'tool_use' as const, name: 'lookup', input: { id: '1042' } }], usage: { output_tokens: outputPerCall } }
      : { content: [{ type: 'text' as const, text: 'Order 1042 shipped on Monday with DHL.' }], usage: { output_tokens: outputPerCall } };
  return { fault: 'slow-first-byte', delayMs: latencyMs, response };
}

interface RunFigures {
  readonly name: string;
  readonly seconds: number;
  readonly completed: number;
  readonly failed: number;
  readonly failures: Readonly<Record<string, number>>;
  readonly received429: number;
  readonly wastedTokens: number;
  readonly tokensServed: number;
}

interface MeasuredRun extends RunFigures {
  readonly inputPerSession: number;
  readonly perMinute: { readonly requests: number; readonly inputTokens: number; readonly outputTokens: number };
}

async function runOnce(name: string, mockLimits: MockRateLimitOptions, modelLimits: KeelOptions['modelLimits'], count: number): Promise<MeasuredRun> {
  const limiter = createMockRateLimiter(mockLimits);
  const server = await startMockAnthropicServer({ script, rateLimits: limiter });
  const keel = createKeel({ database: ':memory:', model: createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'bench-key', baseURL: server.baseURL }), modelLimits, redaction: false });
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: count }, (_, index) => keel.run(agent, { task: `Where is order ${1000 + index}?` }).result.catch((error: unknown) => error)));
  const seconds = (performance.now() - started) / 1000;
  const minutes = Math.max(1, seconds / 60);
  await keel.close();
  await server.close();
  const failures: Record<string, number> = {};
  let wastedTokens = limiter.counts.refusedInputTokens;
  let completed = 0;
  for (const result of results) {
    const session = result as { status?: string; error?: { code: string } | null; usage?: { inputTokens: number; outputTokens: number } };
    if (session.status === 'completed') {
      completed += 1;
      continue;
    }
    const code = session.error?.code ?? (result instanceof Error ? result.message.slice(0, 60) : 'unknown');
    failures[code] = (failures[code] ?? 0) + 1;
    wastedTokens += (session.usage?.inputTokens ?? 0) + (session.usage?.outputTokens ?? 0);
  }
  return {
    name,
    seconds: Math.round(seconds * 10) / 10,
    completed,
    failed: count - completed,
    failures,
    received429: limiter.counts.rejected,
    wastedTokens,
    tokensServed: limiter.counts.inputTokens + limiter.counts.outputTokens,
    inputPerSession: count === 0 ? 0 : limiter.counts.inputTokens / count,
    // Sessions that all start at once need everything within the first minute when they can run that fast.
    perMinute: { requests: limiter.counts.served / minutes, inputTokens: limiter.counts.inputTokens / minutes, outputTokens: limiter.counts.outputTokens / minutes },
  };
}

// The demand: the same sessions on an account without limits, as fast as this machine runs them.
const unlimited: MockRateLimitOptions = { requestsPerMinute: 1e9, inputTokensPerMinute: 1e12, outputTokensPerMinute: 1e12 };
const calibration = await runOnce('account without limits (the demand)', unlimited, false, sessions);
const half = (perMinute: number): number => Math.max(1, Math.floor(perMinute / 2));
const limits: ProviderLimits = {
  requestsPerMinute: half(calibration.perMinute.requests),
  inputTokensPerMinute: half(calibration.perMinute.inputTokens),
  outputTokensPerMinute: half(calibration.perMinute.outputTokens),
};
const mockLimits: MockRateLimitOptions = { ...limits };

const runs: RunFigures[] = [calibration];
runs.push(await runOnce('no limiter (gateway retries: 4, jittered)', mockLimits, false, sessions));
runs.push(await runOnce('limiter, limits configured', mockLimits, { accounts: { anthropic: limits }, maxQueueWaitMs: 600_000 }, sessions));
runs.push(await runOnce('limiter, limits learned from headers', mockLimits, { maxQueueWaitMs: 600_000 }, sessions));

const report = { sessions, latencyMs, limits, demandPerMinute: calibration.perMinute, demandPerSession: { requests: 2, inputTokens: calibration.inputPerSession, outputTokens: 2 * outputPerCall, outputReservedPerCall: maxOutputTokens }, load: loadavg().map((value) => Math.round(value * 10) / 10), node: process.version, runs };
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/gateway-limits.json', import.meta.url), `${JSON.stringify(report, null, 2)}\n`);
if (values.json) {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  process.stdout.write(`${sessions} sessions at once, 2 calls each, ${latencyMs} ms per call; limits per minute: ${limits.requestsPerMinute} requests, ${limits.inputTokensPerMinute} input, ${limits.outputTokensPerMinute} output tokens (half the demand measured on an account without limits); load ${report.load.join(' ')}\n\n`);
  process.stdout.write('| run | completion | completed | failed | 429s received | wasted tokens |\n|---|---|---|---|---|---|\n');
  for (const run of runs) {
    const failed = run.failed === 0 ? '0' : `${run.failed} (${Object.entries(run.failures).map(([code, count]) => `${code} ×${count}`).join(', ')})`;
    process.stdout.write(`| ${run.name} | ${run.seconds} s | ${run.completed} | ${failed} | ${run.received429} | ${run.wastedTokens} |\n`);
  }
}
