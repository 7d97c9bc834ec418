// Scale-out benchmark: many concurrent sessions of the shared workload (ten model calls at a fixed mock latency,
// nine lookups between them) on each way Keel can run them, side by side in one run:
//   Keel in one process on SQLite; Keel workers on PostgreSQL (1 and 3 worker processes sharing the run queue);
//   Keel on a real Restate server; and, as the peer, LangGraph's ReAct agent with its PostgreSQL checkpointer.
// Figures: wall time, throughput (sessions/s and model turns/s), peak memory of each process, and the p99 of each
// process's event-loop lag.
//
//   npm run bench:scale -- --size small          100 sessions (the default while others use the machine)
//   npm run bench:scale -- --size full           1,000 sessions
//   options: --sessions N, --latency MS (50), --only sqlite,pg1,pg3,restate,langgraph, --scratch DIR, --out FILE
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPostgresServer } from '../src/testing/postgres-server.ts';
import type { PostgresServerProcess } from '../src/testing/postgres-server.ts';
import { copyHarness, installPeer } from './peers/scratch.ts';
import { measureLangGraph, measureRestate, measureSqlite, measureWorkers } from './scale-out/configurations.ts';
import type { Measurement, RunContext } from './scale-out/configurations.ts';

const repositoryRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const configurationNames = ['sqlite', 'pg1', 'pg3', 'restate', 'langgraph'] as const;
type ConfigurationName = (typeof configurationNames)[number];

interface Options {
  readonly sessions: number;
  readonly latencyMs: number;
  readonly only: readonly ConfigurationName[];
  readonly scratch: string;
  readonly out: string;
}

const usage = `npx tsx bench/scale-out.ts [--size small|full] [--sessions N] [--latency MS] [--only ${configurationNames.join(',')}] [--scratch DIR] [--out FILE]
  --size small   100 sessions (default); full: 1,000
  --sessions N   overrides the size's count
  --only …       the configurations to measure, in this order
  environment: SCALE_OUT_LOG_DIR=DIR keeps every child process's output; SCALE_OUT_MEMORY_TRACE_MS=2000 makes each
  child print its memory breakdown (RSS, V8 heap, external, array buffers) that often; SCALE_OUT_NODE_FLAGS="--cpu-prof
  --cpu-prof-dir=DIR" passes Node flags to the children.`;

function parseOptions(argv: readonly string[]): Options {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage);
    process.exit(0);
  }
  const value = (flag: string): string | undefined => {
    const index = argv.indexOf(flag);
    return index === -1 ? undefined : argv[index + 1];
  };
  const size = value('--size') ?? 'small';
  if (size !== 'small' && size !== 'full') throw new Error(`--size must be small or full, got ${size}`);
  const sessions = Number(value('--sessions') ?? (size === 'full' ? 1000 : 100));
  const only = (value('--only')?.split(',') ?? [...configurationNames]) as ConfigurationName[];
  for (const name of only) if (!configurationNames.includes(name)) throw new Error(`--only takes ${configurationNames.join(', ')}; got ${name}`);
  if (!(Number.isInteger(sessions) && sessions > 0)) throw new Error('--sessions must be a positive integer');
  return {
    sessions,
    latencyMs: Number(value('--latency') ?? 50),
    only,
    scratch: value('--scratch') ?? join(tmpdir(), 'keel-scale-out-peers'),
    out: value('--out') ?? join(repositoryRoot, 'bench', 'results', `scale-out-${size === 'full' && value('--sessions') === undefined ? 'full' : `${sessions}`}.json`),
  };
}

interface Mock {
  readonly url: string;
  stats(): Promise<Record<string, number>>;
  reset(): Promise<void>;
  stop(): void;
}

async function startMock(latencyMs: number): Promise<Mock> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repositoryRoot, 'bench', 'workload-mock.ts')], {
    env: { ...process.env, PORT: '0', MOCK_LATENCY_MS: String(latencyMs), MOCK_TURNS: '10' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolvePort, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      const match = /MOCK_READY (\d+)/.exec(chunk.toString('utf8'));
      if (match !== null) resolvePort(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`the mock exited (${code}) before it listened`)));
  });
  const root = `http://127.0.0.1:${port}`;
  return {
    url: `${root}/v1`,
    stats: async () => (await (await fetch(`${root}/stats`)).json()) as Record<string, number>,
    reset: async () => {
      await (await fetch(`${root}/reset`, { method: 'POST' })).text();
    },
    stop: () => child.kill('SIGTERM'),
  };
}

/** The peer's packages, installed into a scratch folder outside the repository (never into the project). */
async function langGraphAdapter(scratch: string): Promise<string> {
  copyHarness(join(repositoryRoot, 'bench', 'peers', 'suite'), scratch, repositoryRoot);
  const outcome = await installPeer(scratch, 'lg');
  if (outcome.status === 'failed') throw new Error(`installing the LangGraph peer failed: ${outcome.detail}`);
  return join(scratch, 'lg', 'adapter-postgres.mjs');
}

function loadAverage(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return 'uptime unavailable';
  }
}

function row(measurement: Measurement): string {
  const seconds = measurement.wallMs / 1000;
  const servers = (measurement.servers ?? []).map((server) => ` (+ ${server.role} ${server.peakRssMB === null ? 'unmeasured' : server.peakRssMB.toFixed(0)})`).join('');
  const memory = `${measurement.processes.map((entry) => entry.peakRssMB.toFixed(0)).join(' / ')}${servers}`;
  const lag = measurement.processes.map((entry) => entry.eventLoopLagP99Ms.toFixed(1)).join(' / ');
  return `| ${measurement.configuration} | ${measurement.processes.length} | ${seconds.toFixed(2)} | ${(measurement.sessions / seconds).toFixed(1)} | ${((measurement.sessions * 10) / seconds).toFixed(0)} | ${memory} | ${lag} |`;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const loadBefore = loadAverage();
  const mock = await startMock(options.latencyMs);
  let postgres: Promise<PostgresServerProcess> | undefined;
  const context: RunContext = {
    mockURL: mock.url,
    sessions: options.sessions,
    postgres: () => (postgres ??= startPostgresServer({ settings: { max_connections: '400' } })),
  };
  const measurements: Measurement[] = [];
  const failures: string[] = [];
  try {
    for (const name of options.only) {
      await mock.reset();
      process.stderr.write(`scale-out: ${name}, ${options.sessions} sessions…\n`);
      try {
        const measurement =
          name === 'sqlite' ? await measureSqlite(context)
          : name === 'pg1' ? await measureWorkers(context, 1)
          : name === 'pg3' ? await measureWorkers(context, 3)
          : name === 'restate' ? await measureRestate(context)
          : await measureLangGraph(context, await langGraphAdapter(options.scratch));
        const stats = await mock.stats();
        // Warm-up sessions included: every session made exactly its ten calls.
        const expected = (options.sessions + 20) * 10;
        if (stats.requests !== expected || stats.finals !== options.sessions + 20) throw new Error(`the mock saw ${stats.requests} requests and ${stats.finals} final answers, expected ${expected} and ${options.sessions + 20}`);
        measurements.push(measurement);
        process.stderr.write(`${row(measurement)}\n`);
      } catch (error) {
        failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
        process.stderr.write(`scale-out: ${name} failed: ${failures.at(-1)}\n`);
      }
    }
  } finally {
    mock.stop();
    await (await postgres)?.stop();
  }
  const loadAfter = loadAverage();
  const table = [
    `${options.sessions} concurrent sessions × 10 turns, mock latency ${options.latencyMs} ms, Node ${process.version}.`,
    `Load before: ${loadBefore}`,
    `Load after:  ${loadAfter}`,
    '',
    '| configuration | processes | wall (s) | sessions/s | turns/s | peak RSS per process (MB) | p99 event-loop lag per process (ms) |',
    '|---|---|---|---|---|---|---|',
    ...measurements.map(row),
    ...(failures.length === 0 ? [] : ['', ...failures.map((failure) => `Not measured: ${failure}`)]),
  ].join('\n');
  console.log(table);
  mkdirSync(dirname(options.out), { recursive: true });
  writeFileSync(options.out, `${JSON.stringify({ options, loadBefore, loadAfter, measurements, failures }, null, 2)}\n`);
  if (failures.length > 0) process.exitCode = 1;
}

await main();
