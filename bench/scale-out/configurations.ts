// The configurations the scale-out benchmark compares, each measured on the same mock workload.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { attachInvocation, createRunQueue, sendSession } from '../../src/index.ts';
import type { PostgresServerProcess } from '../../src/testing/postgres-server.ts';
import { startRestateServer } from '../../test/helpers/restate-server.ts';
import { taskFor } from '../adapters/workload.ts';
import { startChild } from './child-process.ts';
import type { BenchChild } from './child-process.ts';
import type { ProcessMetrics } from './process-metrics.ts';
import { watchServerMemory } from './server-memory.ts';
import type { ServerMemory } from './server-memory.ts';

export interface Measurement {
  readonly configuration: string;
  readonly sessions: number;
  readonly wallMs: number;
  readonly processes: readonly ProcessMetrics[];
  /** Engine processes beside Keel's (restate-server), measured from outside from the first warm-up session on. */
  readonly servers?: readonly ServerMemory[];
}

export interface RunContext {
  readonly mockURL: string;
  readonly sessions: number;
  /** A PostgreSQL server for the configurations that need one (started once by the caller). */
  postgres(): Promise<PostgresServerProcess>;
}

const nodeProcess = fileURLToPath(new URL('./node-process.ts', import.meta.url));
const warmupSessions = 20;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function finish(children: readonly BenchChild[]): Promise<ProcessMetrics[]> {
  for (const child of children) if (child.child.exitCode === null) child.child.kill('SIGTERM');
  const metrics = await Promise.all(children.map((child) => child.metrics));
  await Promise.all(children.map((child) => child.exited));
  return metrics;
}

/** Keel in one process, journal on SQLite: every session at once with Promise.all. */
export async function measureSqlite(context: RunContext): Promise<Measurement> {
  const folder = mkdtempSync(join(tmpdir(), 'keel-scale-sqlite-'));
  try {
    const child = startChild(nodeProcess, ['sqlite', context.mockURL, String(context.sessions), join(folder, 'keel.db')]);
    const { wallMs } = await child.result;
    const metrics = await child.metrics;
    await child.exited;
    return { configuration: 'Keel, SQLite, in process', sessions: context.sessions, wallMs, processes: [metrics] };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** Keel workers on PostgreSQL: the sessions are queued by this process and run by `workers` worker processes. */
export async function measureWorkers(context: RunContext, workers: number): Promise<Measurement> {
  const url = await (await context.postgres()).createDatabase();
  const queue = createRunQueue({ url });
  await queue.migrate();
  const concurrency = Math.ceil(context.sessions / workers);
  const children = Array.from({ length: workers }, () => startChild(nodeProcess, ['worker', context.mockURL, url, String(concurrency)]));
  try {
    await Promise.all(children.map((child) => child.ready));
    const runBatch = async (offset: number, count: number): Promise<number> => {
      const started = performance.now();
      const ids: string[] = [];
      for (let index = 0; index < count; index += 50) {
        const batch = Array.from({ length: Math.min(50, count - index) }, (_, inner) => queue.enqueue({ agent: 'bench-lookup', task: taskFor(offset + index + inner) }));
        ids.push(...(await Promise.all(batch)).map((entry) => entry.sessionId));
      }
      await waitUntilDone(queue, ids);
      return performance.now() - started;
    };
    await runBatch(0, warmupSessions);
    const wallMs = await runBatch(warmupSessions, context.sessions);
    return { configuration: `Keel, PostgreSQL, ${workers} worker${workers === 1 ? '' : 's'}`, sessions: context.sessions, wallMs, processes: await finish(children) };
  } finally {
    await finish(children).catch(() => undefined);
    await queue.close();
  }
}

async function waitUntilDone(queue: ReturnType<typeof createRunQueue>, ids: readonly string[]): Promise<void> {
  const last = ids.at(-1);
  if (last === undefined) return;
  // Claims go oldest first, so the last queued is among the last done; then every one is checked.
  for (const sessionId of [last, ...ids]) {
    for (;;) {
      const row = await queue.status(sessionId);
      if (row?.state === 'done') {
        if (row.resultStatus !== 'completed') throw new Error(`session ${sessionId} ended ${row.resultStatus}`);
        break;
      }
      if (row?.state === 'failed') throw new Error(`session ${sessionId} failed: ${row.lastError?.message}`);
      await sleep(25);
    }
  }
}

/** Keel sessions as virtual objects on a real Restate server; the endpoint keeps Keel's journal on SQLite. */
export async function measureRestate(context: RunContext): Promise<Measurement> {
  const folder = mkdtempSync(join(tmpdir(), 'keel-scale-restate-'));
  const server = await startRestateServer(folder);
  const endpoint = startChild(nodeProcess, ['restate', context.mockURL, server.ingressUrl, server.adminUrl, join(folder, 'keel.db')]);
  const serverMemory = watchServerMemory('restate-server', server.pid());
  try {
    await endpoint.ready;
    const runBatch = async (offset: number, count: number): Promise<number> => {
      const started = performance.now();
      const invocations: string[] = [];
      for (let index = 0; index < count; index += 100) {
        const batch = Array.from({ length: Math.min(100, count - index) }, (_, inner) =>
          sendSession({ ingressUrl: server.ingressUrl, sessionId: `ses_scale_${offset + index + inner}` }, { agent: 'bench-lookup', task: taskFor(offset + index + inner) }));
        invocations.push(...(await Promise.all(batch)));
      }
      const results = await Promise.all(invocations.map((id) => attachInvocation({ ingressUrl: server.ingressUrl, timeoutMs: 600_000 }, id)));
      const wrong = results.find((result) => result.status !== 'completed' || result.turns !== 10);
      if (wrong !== undefined) throw new Error(`Restate session ${wrong.sessionId} ended ${wrong.status} after ${wrong.turns} turns`);
      return performance.now() - started;
    };
    await runBatch(0, warmupSessions);
    const wallMs = await runBatch(warmupSessions, context.sessions);
    return { configuration: 'Keel on Restate (1 endpoint process)', sessions: context.sessions, wallMs, processes: await finish([endpoint]), servers: [serverMemory.stop()] };
  } finally {
    await finish([endpoint]).catch(() => undefined);
    await server.stop();
    rmSync(folder, { recursive: true, force: true });
  }
}

/** The peer: LangGraph's ReAct agent with PostgresSaver checkpoints, every session at once in one process. */
export async function measureLangGraph(context: RunContext, adapterPath: string): Promise<Measurement> {
  const url = await (await context.postgres()).createDatabase();
  const child = startChild(nodeProcess, ['langgraph', context.mockURL, String(context.sessions), adapterPath], { KEEL_PEER_POSTGRES_URL: url });
  const { wallMs } = await child.result;
  const metrics = await child.metrics;
  await child.exited;
  return { configuration: 'LangGraph + PostgresSaver (peer), in process', sessions: context.sessions, wallMs, processes: [metrics] };
}
