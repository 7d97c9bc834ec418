// One process of the scale-out benchmark (bench/scale-out.ts starts it):
//   sqlite    <mockURL> <sessions> <database file>   runs the sessions at once in this process, on SQLite
//   worker    <mockURL> <database URL> <concurrency> a worker on PostgreSQL until SIGTERM
//   restate   <mockURL> <ingress> <admin> <database> a Restate endpoint (Keel's journal on SQLite) until SIGTERM
//   langgraph <mockURL> <sessions> <adapter.mjs>     the LangGraph peer's sessions at once in this process
// Prints "READY" when it can take work, "RESULT <json>" after its own sessions, and "METRICS <json>" last.
import { pathToFileURL } from 'node:url';
import { createKeel, createRunQueue, createWorker, registerDeployment, serveRestate } from '../../src/index.ts';
import { taskFor } from '../adapters/workload.ts';
import { benchAgent, benchModelName, benchModels } from './bench-agent.ts';
import { printMetrics, startProcessMetrics } from './process-metrics.ts';

const [mode, mockURL, ...rest] = process.argv.slice(2);
if (mockURL === undefined) throw new Error('usage: node-process.ts <sqlite|worker|restate|langgraph> <mockURL> …');
const warmupSessions = 20;

const onTerminate = (stop: () => Promise<number>, role: string, metrics: ReturnType<typeof startProcessMetrics>): void => {
  process.once('SIGTERM', () => {
    void stop().then((sessions) => {
      printMetrics({ ...metrics.stop(sessions), role });
      process.exit(0);
    });
  });
};

async function runAtOnce(count: number, offset: number, runOne: (index: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  await Promise.all(Array.from({ length: count }, (_, index) => runOne(offset + index)));
  return performance.now() - started;
}

switch (mode) {
  case 'sqlite': {
    const [sessionsText, database] = rest;
    const keel = createKeel({ database, models: benchModels(mockURL), model: benchModelName, env: {}, modelLimits: false });
    const runOne = async (index: number) => {
      const result = await keel.run(benchAgent, taskFor(index)).result;
      if (result.status !== 'completed' || result.turns !== 10) throw new Error(`session ${result.sessionId} ended ${result.status} after ${result.turns} turns`);
    };
    await runAtOnce(warmupSessions, 0, runOne);
    process.stdout.write('READY\n');
    const metrics = startProcessMetrics('sqlite');
    const sessions = Number(sessionsText);
    const wallMs = await runAtOnce(sessions, warmupSessions, runOne);
    process.stdout.write(`RESULT ${JSON.stringify({ wallMs })}\n`);
    printMetrics(metrics.stop(sessions));
    await keel.close();
    break;
  }
  case 'worker': {
    const [url, concurrencyText] = rest;
    if (url === undefined) throw new Error('worker needs the database URL');
    const keel = createKeel({ storage: { kind: 'postgres', url, maxConnections: 20 }, models: benchModels(mockURL), model: benchModelName, env: {}, modelLimits: false });
    const queue = createRunQueue({ url });
    let finished = 0;
    const worker = createWorker({
      keel,
      queue,
      agents: [benchAgent],
      concurrency: Number(concurrencyText),
      poll: { minMs: 20, maxMs: 250 },
      onEvent: (event) => {
        if (event.type === 'settled' && event.settlement.kind === 'ended') finished += 1;
        if (event.type === 'queue-error') process.stderr.write(`${event.error.message}\n`);
      },
    });
    await worker.start();
    const metrics = startProcessMetrics('worker');
    onTerminate(async () => {
      await worker.stop({ graceMs: 5000 });
      await queue.close();
      await keel.close();
      return finished;
    }, 'worker', metrics);
    process.stdout.write('READY\n');
    break;
  }
  case 'restate': {
    const [, adminUrl, database] = rest;
    if (adminUrl === undefined) throw new Error('restate needs the ingress and admin URLs');
    const keel = createKeel({ database, models: benchModels(mockURL), model: benchModelName, env: {}, modelLimits: false });
    const server = await serveRestate({ agents: [benchAgent], keel });
    await registerDeployment({ adminUrl, endpointUrl: server.url, force: true });
    const metrics = startProcessMetrics('restate endpoint');
    onTerminate(async () => {
      await server.close();
      const sessions = (await keel.sessions({ limit: 100_000 })).length;
      await keel.close();
      return sessions;
    }, 'restate endpoint', metrics);
    process.stdout.write('READY\n');
    break;
  }
  case 'langgraph': {
    const [sessionsText, adapterPath] = rest;
    if (adapterPath === undefined) throw new Error('langgraph needs the adapter module');
    const adapter = (await import(pathToFileURL(adapterPath).href)) as { setup?: () => Promise<void>; runSession: (baseURL: string) => Promise<void>; teardown?: () => Promise<void> };
    await adapter.setup?.();
    const runOne = () => adapter.runSession(mockURL);
    await runAtOnce(warmupSessions, 0, runOne);
    process.stdout.write('READY\n');
    const metrics = startProcessMetrics('langgraph');
    const sessions = Number(sessionsText);
    const wallMs = await runAtOnce(sessions, 0, runOne);
    process.stdout.write(`RESULT ${JSON.stringify({ wallMs })}\n`);
    printMetrics(metrics.stop(sessions));
    await adapter.teardown?.();
    break;
  }
  default:
    throw new Error(`unknown mode ${String(mode)}`);
}
