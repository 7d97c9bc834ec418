// The server side of bench/serve-load.ts, in its own process so that its memory is measured alone: `keel serve`'s
// composition (createKeel on a SQLite file + createKeelServer) with one agent, `ticker`, whose model keeps a
// session running: every `--interval-ms` it calls the `tick` tool, until `--seconds` have passed, then answers.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { createKeel, createKeelServer, createServerLogger, defineAgent, defineTool } from '../../src/index.ts';
import type { Model, ModelResponse } from '../../src/index.ts';
import { memoryBreakdown } from './memory-breakdown.ts';

const { values } = parseArgs({ options: { db: { type: 'string' }, seconds: { type: 'string', default: '30' }, 'interval-ms': { type: 'string', default: '1000' }, 'sample-seconds': { type: 'string', default: '5' }, 'allocation-profile': { type: 'string' }, 'sqlite-cache-kib': { type: 'string' } } });
if (values.db === undefined) throw new Error('--db is required');
const runUntil = Date.now() + Number(values.seconds) * 1000;
const intervalMs = Number(values['interval-ms']);
const usage = { inputTokens: 50, outputTokens: 10, cacheReadTokens: 0, cacheWriteTokens: 0 };

/** Waits one interval (abortable), then asks for another tick, or answers once the run's time is up. */
const tickerModel: Model = {
  provider: 'scripted',
  modelId: 'ticker',
  async generate(request, signal) {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, intervalMs);
      signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(new DOMException('aborted', 'AbortError'));
      }, { once: true });
    });
    const turn = request.messages.filter((message) => message.role === 'assistant').length + 1;
    const response: ModelResponse = Date.now() >= runUntil
      ? { id: `msg_${turn}`, model: 'ticker', content: [{ type: 'text', text: `Done after ${turn} turns.` }], stopReason: 'end_turn', providerStopReason: 'end_turn', usage }
      : { id: `msg_${turn}`, model: 'ticker', content: [{ type: 'tool_use', id: `toolu_${turn}`, name: 'tick', input: { n: turn } }], stopReason: 'tool_use', providerStopReason: 'tool_use', usage };
    return response;
  },
  async *stream(request, signal) {
    yield { type: 'finish', response: await this.generate(request, signal) };
  },
};

const tick = defineTool({ name: 'tick', description: 'Counts.', input: z.object({ n: z.number() }), risk: 'read', execute: ({ n }) => `tick ${n}` });
// No context planner: the load is the journal and the streams, not token counting (a session's requests grow by two
// short messages a tick, a few hundred at most in a run).
const ticker = defineAgent({ name: 'ticker', instructions: 'Tick.', tools: [tick], model: 'ticker', streaming: false, limits: { maxTurns: 100_000 } });

// --sqlite-cache-kib <n>: every SQLite connection this process opens gets `PRAGMA cache_size = -n` first (better-sqlite3's
// build default is 16,000 KiB per connection), to measure how much of the C heap is SQLite's page cache. A bench-only
// hook on better-sqlite3's prototype: Keel's stores take no cache size option.
if (values['sqlite-cache-kib'] !== undefined) limitSqliteCache(Number(values['sqlite-cache-kib']));
function limitSqliteCache(kibibytes: number): void {
  if (!(Number.isInteger(kibibytes) && kibibytes > 0)) throw new Error('--sqlite-cache-kib must be a positive whole number');
  const configured = new WeakSet<object>();
  const pragma = Database.prototype.pragma;
  Database.prototype.pragma = function pragmaAfterCacheSize(this: Database.Database, source: string, options?: Database.PragmaOptions) {
    if (!configured.has(this)) {
      configured.add(this);
      pragma.call(this, `cache_size = -${kibibytes}`);
    }
    return pragma.call(this, source, options);
  } as typeof pragma;
}

const keel = createKeel({ database: values.db, models: { ticker: tickerModel }, env: {} });
const server = createKeelServer({ keel, agents: [ticker], consoleFolder: null, rateLimit: false, logger: createServerLogger(process.stderr) });
const key = await server.ensureAdminKey();
const { url } = await server.listen({ port: 0 });
process.stdout.write(`${JSON.stringify({ url, key })}\n`);
// Memory after a full collection (the parent starts this process with --expose-gc): heapUsed is what the process
// retains; RSS also counts pages V8 and the C allocator keep committed after freeing, broken down by memoryBreakdown.
const collect = (globalThis as { gc?: () => void }).gc;
const sampler = setInterval(() => {
  collect?.();
  process.stdout.write(`${JSON.stringify({ memory: { ...memoryBreakdown(), collected: collect !== undefined } })}\n`);
}, Number(values['sample-seconds']) * 1000);
sampler.unref();
// --allocation-profile <file>: V8's sampling heap profiler for the whole run, counting the objects full GCs collected
// too (not only what is alive at the end): what the run allocates that lives long enough to reach the old generation.
const profiler = values['allocation-profile'] === undefined ? null : new Session();
if (profiler !== null) {
  profiler.connect();
  await profiler.post('HeapProfiler.startSampling', { samplingInterval: 64 * 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false });
}
process.on('SIGTERM', () => {
  void writeAllocationProfile().then(() => server.close()).then(() => keel.close()).then(() => process.exit(0));
});

async function writeAllocationProfile(): Promise<void> {
  if (profiler === null || values['allocation-profile'] === undefined) return;
  const { profile } = await profiler.post('HeapProfiler.stopSampling');
  writeFileSync(values['allocation-profile'], JSON.stringify(profile));
}
