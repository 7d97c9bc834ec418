// Overhead of the tool executor pipeline per in-process call, without a sandbox (issue 3 target: < 50 µs median).
// Run: npx tsx bench/tool-pipeline.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { createToolPipeline, defineTool } from '../src/tools/index.ts';
import type { ToolPipeline } from '../src/tools/index.ts';
import { createAuditStage, createDenialAuditStage } from '../src/tools/stages/audit.ts';
import { createAuthorizeStage } from '../src/tools/stages/authorize.ts';
import { createIdempotencyStage } from '../src/tools/stages/idempotency.ts';
import { createRateLimitStage } from '../src/tools/stages/rate-limit.ts';
import { createSanitizeStage } from '../src/tools/stages/sanitize.ts';
import { createMemoryAuditLog, createMemoryBlobStore, createMemoryIdempotencyStore, createSqliteAuditLog, createSqliteIdempotencyStore, createSqliteStore } from '../src/store/index.ts';
import type { AuditLog, IdempotencyStore } from '../src/store/index.ts';
import type { BlobStore } from '../src/spec/index.ts';

const lookup = defineTool({
  name: 'lookup',
  description: 'Look up a key',
  input: z.object({ key: z.string() }),
  risk: 'read',
  execute: ({ key }) => `value:${key}:`.padEnd(200, 'x'),
});

function fullPipeline(audit: AuditLog, idempotency: IdempotencyStore, blobs: BlobStore): ToolPipeline {
  return createToolPipeline({
    decideStages: [createDenialAuditStage({ log: audit }), createAuthorizeStage({}), createRateLimitStage({ perAgentTool: { capacity: 1e9, refillPerSecond: 1e9 }, perAgent: { capacity: 1e9, refillPerSecond: 1e9 } })],
    executeStages: [createIdempotencyStage(idempotency), createAuditStage({ log: audit }), createSanitizeStage({ blobs })],
  });
}

async function measure(name: string, call: (index: number) => Promise<unknown>, iterations = 20_000): Promise<{ name: string; medianUs: number; p95Us: number }> {
  for (let index = 0; index < 2_000; index += 1) await call(-index - 1);
  const samples = new Float64Array(iterations);
  for (let index = 0; index < iterations; index += 1) {
    const started = process.hrtime.bigint();
    await call(index);
    samples[index] = Number(process.hrtime.bigint() - started) / 1000;
  }
  samples.sort();
  return { name, medianUs: samples[Math.floor(iterations / 2)] ?? 0, p95Us: samples[Math.floor(iterations * 0.95)] ?? 0 };
}

async function callThrough(pipeline: ToolPipeline, index: number): Promise<void> {
  const use = { type: 'tool_use' as const, id: `c${index}`, name: 'lookup', input: { key: `k${index}` } };
  const agent = { name: 'bench', scopes: [] };
  const signal = new AbortController().signal;
  const key = `idem_${index}`;
  const verdict = await pipeline.decide({ sessionId: 's', turn: 1, idempotencyKey: key, agent, call: use, tool: lookup, availableTools: ['lookup'], signal });
  const outcome = await pipeline.execute({ sessionId: 's', turn: 1, callId: use.id, idempotencyKey: key, agent, tool: lookup, input: verdict.input, signal, decision: verdict, approval: null });
  if (!outcome.ok) throw outcome.error;
}

const scratch = mkdtempSync(join(tmpdir(), 'keel-bench-pipeline-'));
try {
  const direct = await measure('tool.execute directly (no pipeline)', async (index) => {
    await lookup.execute({ key: `k${index}` }, { sessionId: 's', turn: 1, callId: 'c', idempotencyKey: 'k', signal: new AbortController().signal });
  });
  const bare = createToolPipeline();
  const validateOnly = await measure('validate + timeout only', (index) => callThrough(bare, index));
  const memory = fullPipeline(createMemoryAuditLog(), createMemoryIdempotencyStore(), createMemoryBlobStore());
  const allMemory = await measure('all stages, in-memory audit and idempotency', (index) => callThrough(memory, index));
  const store = createSqliteStore({ path: join(scratch, 'keel.db') });
  const sqlite = fullPipeline(createSqliteAuditLog({ database: store.database }), createSqliteIdempotencyStore(store.database), store.blobs);
  const allSqlite = await measure('all stages, SQLite audit and idempotency (durable)', (index) => callThrough(sqlite, index), 10_000);
  await store.close();
  const rows = [direct, validateOnly, allMemory, allSqlite];
  console.log(`Tool pipeline overhead per call (Node ${process.version}, ${new Date().toISOString()})\n`);
  console.log('| path | median µs | p95 µs | median overhead over direct µs |');
  console.log('|---|---|---|---|');
  for (const row of rows) console.log(`| ${row.name} | ${row.medianUs.toFixed(1)} | ${row.p95Us.toFixed(1)} | ${(row.medianUs - direct.medianUs).toFixed(1)} |`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
