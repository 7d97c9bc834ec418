import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent } from '../../src/loop/index.ts';
import type { AgentDefinition } from '../../src/loop/index.ts';
import { createKeel } from '../../src/runtime/index.ts';
import type { Keel } from '../../src/runtime/index.ts';
import { createPostgresStore, openPostgresDatabase } from '../../src/store/postgres/index.ts';
import type { PostgresStore } from '../../src/store/postgres/index.ts';
import { createScriptedModel } from '../../src/testing/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { createRunQueue, createWorker } from '../../src/worker/index.ts';
import type { QueueState, RunQueue, Worker, WorkerOptions } from '../../src/worker/index.ts';
import { startPostgresServer } from '../helpers/postgres-server.ts';
import type { PostgresServerProcess } from '../helpers/postgres-server.ts';

let server: PostgresServerProcess;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  server = await startPostgresServer();
}, 60_000);

afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
  await server?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A far end that applies each idempotency key once and counts deliveries, as a payment API would. */
class FarEnd {
  readonly deliveries = new Map<string, number>();
  readonly applied = new Set<string>();
  deliver(key: string): void {
    this.deliveries.set(key, (this.deliveries.get(key) ?? 0) + 1);
    this.applied.add(key);
  }
}

function refundAgent(farEnd: FarEnd, options: { readonly risk: 'write' | 'irreversible'; readonly delayMs: number }): AgentDefinition {
  const refund = defineTool({
    name: 'refund',
    description: 'Refunds an order.',
    input: z.object({ orderId: z.string() }),
    risk: options.risk,
    idempotent: true,
    sinks: [],
    execute: async ({ orderId }, context) => {
      await sleep(options.delayMs);
      farEnd.deliver(context.idempotencyKey);
      return { refunded: orderId };
    },
  });
  return defineAgent({ name: 'refunder', instructions: 'Refund what you are asked to.', tools: [refund] });
}

const script = createScriptedModel([
  { content: [{ type: 'tool_use', id: 'call_1', name: 'refund', input: { orderId: '1042' } }] },
  { content: [{ type: 'text', text: 'Refunded order 1042.' }] },
]);

interface Rig {
  readonly keel: Keel;
  readonly queue: RunQueue;
  readonly store: PostgresStore;
  worker(agent: AgentDefinition, options?: Partial<WorkerOptions>): Worker;
}

async function rig(url?: string): Promise<Rig & { readonly url: string }> {
  const databaseUrl = url ?? (await server.createDatabase());
  const store = createPostgresStore({ url: databaseUrl });
  const keel = createKeel({ journal: store.journal, blobs: store.blobs, leases: store.leases, leaseTtlMs: 1500, model: script, modelLimits: false });
  const queue = createRunQueue({ url: databaseUrl });
  const workers: Worker[] = [];
  cleanup.push(async () => {
    for (const worker of workers) await worker.stop({ graceMs: 0 });
    await queue.close();
    await keel.close();
    await store.close();
  });
  return {
    url: databaseUrl,
    keel,
    queue,
    store,
    worker(agent, options = {}) {
      const worker = createWorker({ keel, queue, agents: [agent], claimTtlMs: 1500, poll: { minMs: 20, maxMs: 200 }, retryBaseMs: 50, ...options });
      workers.push(worker);
      return worker;
    },
  };
}

async function waitForState(queue: RunQueue, sessionId: string, state: QueueState, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await queue.status(sessionId);
    if (row?.state === state) return;
    if (Date.now() > deadline) throw new Error(`session ${sessionId} is ${row?.state ?? 'not queued'}, not ${state}: ${JSON.stringify(row)}`);
    await sleep(30);
  }
}

describe('a worker', () => {
  it('parks a session that waits for approval and runs it again once the decision is recorded and the session woken', async () => {
    const farEnd = new FarEnd();
    const agent = refundAgent(farEnd, { risk: 'irreversible', delayMs: 0 });
    const { keel, queue, worker } = await rig();
    await worker(agent).start();
    const { sessionId } = await queue.enqueue({ agent: 'refunder', task: 'Refund order 1042.' });
    await waitForState(queue, sessionId, 'waiting-approval');
    expect(farEnd.applied.size).toBe(0);
    expect((await queue.status(sessionId))?.waitingSessions).toEqual([sessionId]);

    await keel.recordDecision(agent, sessionId, 'call_1', { approved: true, approver: 'ops@example.com' });
    expect(await queue.wake(sessionId)).toEqual([sessionId]);
    await waitForState(queue, sessionId, 'done');
    expect((await queue.status(sessionId))?.resultStatus).toBe('completed');
    expect(farEnd.applied.size).toBe(1);
    const events = await keel.events(sessionId);
    expect(events.filter((event) => event.type === 'tool-approval')).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ type: 'session-end', status: 'completed' });
  });

  it('finds a decision journaled without a wake-up by its sweep, with LISTEN off', async () => {
    const farEnd = new FarEnd();
    const agent = refundAgent(farEnd, { risk: 'irreversible', delayMs: 0 });
    const { keel, queue, worker } = await rig();
    await worker(agent, { listen: false, approvalSweepMs: 200 }).start();
    const { sessionId } = await queue.enqueue({ agent: 'refunder', task: 'Refund order 1042.' });
    await waitForState(queue, sessionId, 'waiting-approval');
    await keel.recordDecision(agent, sessionId, 'call_1', { approved: false, approver: 'ops@example.com', reason: 'Already refunded by hand.' });
    await waitForState(queue, sessionId, 'done');
    expect(farEnd.applied.size).toBe(0);
    const events = await keel.events(sessionId);
    expect(events.at(-1)).toMatchObject({ type: 'session-end', status: 'completed' });
  });

  it('hands a running session off when stopped, and another worker finishes it with the effect applied once', async () => {
    const farEnd = new FarEnd();
    const agent = refundAgent(farEnd, { risk: 'write', delayMs: 600 });
    const first = await rig();
    const leaving = first.worker(agent, { id: 'leaving' });
    await leaving.start();
    const { sessionId } = await first.queue.enqueue({ agent: 'refunder', task: 'Refund order 1042.' });
    await waitForState(first.queue, sessionId, 'claimed');
    // Wait until the refund is in flight, then stop without a grace period.
    for (let waited = 0; waited < 200 && !(await first.keel.events(sessionId).catch(() => [])).some((event) => event.type === 'tool-decision'); waited += 1) await sleep(20);
    const report = await leaving.stop({ graceMs: 0 });
    expect(report.handedOff).toBe(1);
    expect((await first.queue.status(sessionId))?.state).toBe('queued');

    const second = await rig(first.url);
    await second.worker(agent, { id: 'staying' }).start();
    await waitForState(second.queue, sessionId, 'done');
    expect((await second.queue.status(sessionId))?.resultStatus).toBe('completed');
    const history = await second.queue.claims(sessionId);
    expect(history.map((claim) => [claim.worker, claim.outcome])).toEqual([['leaving', 'handed-off'], ['staying', 'completed']]);
    expect(history[0]!.endedAt!).toBeLessThanOrEqual(history[1]!.claimedAt);
    // The refund ran at most twice (cut off, then re-run with the same key) and was applied once.
    expect(farEnd.applied.size).toBe(1);
    const events = await second.keel.events(sessionId);
    expect(events.filter((event) => event.type === 'tool-result')).toHaveLength(1);
  });

  it('gives up on a session whose agent no worker knows after its attempts, keeping the reason', async () => {
    const { queue, worker } = await rig();
    await worker(refundAgent(new FarEnd(), { risk: 'write', delayMs: 0 }), { maxAttempts: 2 }).start();
    const { sessionId } = await queue.enqueue({ agent: 'nobody', task: 'Refund order 1042.' });
    await waitForState(queue, sessionId, 'failed');
    const row = await queue.status(sessionId);
    expect(row?.lastError?.code).toBe('invalid-config');
    expect(row?.lastError?.message).toContain('no agent named "nobody"');
  });

  it('fails a poison row written past enqueue and a model spec that points at a local file, and still runs the healthy row', async () => {
    const { queue, worker, url } = await rig();
    await queue.migrate();
    const database = openPostgresDatabase({ url });
    try {
      const insert = 'INSERT INTO keel_run_queue (session_id, agent, task, model, state) VALUES ($1, $2, $3, $4, \'queued\')';
      await database.query(insert, ['q-huge', 'refunder', 'x'.repeat(20_000_000), null]);
      await database.query(insert, ['q-model-file', 'refunder', 'Refund order 1042.', 'scripted:/etc/passwd']);
      await database.query(insert, ['q-model-unknown', 'refunder', 'Refund order 1042.', 'nope:zzz']);
    } finally {
      await database.close();
    }
    const { sessionId: healthy } = await queue.enqueue({ agent: 'refunder', task: 'Refund order 1042.' });
    const events: string[] = [];
    await worker(refundAgent(new FarEnd(), { risk: 'write', delayMs: 0 }), { maxAttempts: 2, onEvent: (event) => events.push(`${event.type}:${'sessionId' in event ? event.sessionId : ''}`) }).start();
    await waitForState(queue, healthy, 'done');
    for (const sessionId of ['q-huge', 'q-model-file', 'q-model-unknown']) await waitForState(queue, sessionId, 'failed');
    // The poison row was refused by its size and never handed to the worker.
    expect(events.filter((event) => event.endsWith(':q-huge'))).toEqual([]);
    expect((await queue.status('q-huge'))?.lastError).toMatchObject({ code: 'invalid-argument', message: expect.stringContaining('20000000 bytes') });
    const fileModel = await queue.status('q-model-file');
    expect(fileModel?.lastError?.code).toBe('invalid-argument');
    expect(fileModel?.lastError?.message).toContain("'scripted:'");
    expect(fileModel?.lastError?.message).not.toContain('root:');
    expect(fileModel?.lastError?.message).not.toContain('/etc/passwd');
    expect(fileModel?.attempts).toBe(1);
    expect((await queue.status('q-model-unknown'))?.lastError?.code).toBe('invalid-argument');
    expect(events).not.toContain('claim-lost:' + healthy);
  });

  it('accepts from the queue a scripted model spec the worker was started with', async () => {
    const { queue, worker, keel } = await rig();
    const directory = await mkdtemp(join(tmpdir(), 'keel-worker-model-'));
    cleanup.push(() => rm(directory, { recursive: true, force: true }));
    const scriptFile = join(directory, 'answers.json');
    await writeFile(scriptFile, JSON.stringify([{ role: 'assistant', content: [{ type: 'text', text: 'Nothing to refund.' }] }]));
    await worker(refundAgent(new FarEnd(), { risk: 'write', delayMs: 0 }), { queueModels: [`scripted:${scriptFile}`] }).start();
    const { sessionId } = await queue.enqueue({ agent: 'refunder', task: 'Anything to refund?', model: `scripted:${scriptFile}` });
    await waitForState(queue, sessionId, 'done');
    expect((await queue.status(sessionId))?.resultStatus).toBe('completed');
    expect(JSON.stringify(await keel.events(sessionId))).toContain('Nothing to refund.');
  });
});
