// `npx tsx bench/sandbox-runners.ts [--calls N]`: per-call latency of a trivial job in each sandbox runner, the
// price of each level of isolation. Not a test: it prints a table and fails only when a run fails.
//
// Each runner first runs a few warm-up jobs (so a runner's one-time checks are not counted), then N calls one
// after another. The job is `return input + 1`; for bubblewrap also the command `true`. Runners that are not
// available on this machine are listed as such. Last, a fan-out: 8 calls per CPU to bubblewrap at once, which the
// process-wide concurrency limit (one sandbox per CPU) lets through a few at a time.
import { availableParallelism, loadavg } from 'node:os';
import { ConcurrencyLimiter, createBubblewrapRunner, createInProcessRunner, createProcessRunner, createWorkerRunner } from '../src/sandbox/index.ts';
import type { SandboxJob, SandboxLimits, SandboxRunner } from '../src/sandbox/index.ts';

const warmUpCalls = 3;

function parseCalls(argv: readonly string[]): number {
  const index = argv.indexOf('--calls');
  if (index === -1) return 50;
  const calls = Number(argv[index + 1]);
  if (!Number.isInteger(calls) || calls < 1) {
    console.error('usage: npx tsx bench/sandbox-runners.ts [--calls N]');
    process.exit(2);
  }
  return calls;
}

function percentile(sorted: readonly number[], fraction: number): number {
  const index = Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1);
  return sorted[Math.max(0, index)] ?? Number.NaN;
}

interface Case {
  readonly label: string;
  readonly runner: SandboxRunner;
  readonly job: SandboxJob;
  readonly limits: SandboxLimits;
}

async function measure(entry: Case, calls: number): Promise<number[]> {
  const check = (value: unknown, index: number): void => {
    if (entry.job.kind === 'javascript' && value !== index + 1) throw new Error(`${entry.label}: wrong result ${JSON.stringify(value)}`);
  };
  for (let index = 0; index < warmUpCalls; index += 1) {
    const job = entry.job.kind === 'javascript' ? { ...entry.job, input: index } : entry.job;
    check((await entry.runner.run(job, entry.limits)).value, index);
  }
  const durations: number[] = [];
  for (let index = 0; index < calls; index += 1) {
    const job = entry.job.kind === 'javascript' ? { ...entry.job, input: index } : entry.job;
    const started = performance.now();
    const result = await entry.runner.run(job, entry.limits);
    durations.push(performance.now() - started);
    check(result.value, index);
  }
  return durations.sort((left, right) => left - right);
}

async function main(): Promise<void> {
  const calls = parseCalls(process.argv.slice(2));
  const trivial: SandboxJob = { kind: 'javascript', code: 'return input + 1;' };
  const limits: SandboxLimits = { timeoutMs: 30_000 };
  const limited: SandboxLimits = { timeoutMs: 30_000, memoryMb: 64, cpuTimeMs: 5_000 };
  const bubblewrap = createBubblewrapRunner();
  const cases: Case[] = [
    { label: 'in-process', runner: createInProcessRunner(), job: trivial, limits },
    { label: 'worker', runner: createWorkerRunner(), job: trivial, limits },
    { label: 'worker (memoryMb 64)', runner: createWorkerRunner(), job: trivial, limits: { timeoutMs: 30_000, memoryMb: 64 } },
    { label: 'process', runner: createProcessRunner(), job: trivial, limits },
    { label: 'process (prlimit cpu+memory)', runner: createProcessRunner(), job: trivial, limits: limited },
    { label: 'bubblewrap javascript', runner: bubblewrap, job: trivial, limits },
    { label: 'bubblewrap javascript (prlimit)', runner: bubblewrap, job: trivial, limits: limited },
    { label: 'bubblewrap command `true`', runner: bubblewrap, job: { kind: 'command', argv: ['true'] }, limits },
  ];
  console.log(`sandbox runners: ${calls} sequential calls each after ${warmUpCalls} warm-up calls; Node ${process.versions.node}, load average ${loadavg().map((load) => load.toFixed(2)).join(' ')}`);
  console.log(`${'runner'.padEnd(34)}${'median ms'.padStart(11)}${'p95 ms'.padStart(10)}${'min ms'.padStart(10)}${'max ms'.padStart(10)}`);
  for (const entry of cases) {
    if (!(await entry.runner.available())) {
      console.log(`${entry.label.padEnd(34)}  not available here`);
      continue;
    }
    const sorted = await measure(entry, calls);
    const cells = [percentile(sorted, 0.5), percentile(sorted, 0.95), sorted[0] ?? Number.NaN, sorted[sorted.length - 1] ?? Number.NaN];
    console.log(`${entry.label.padEnd(34)}${cells.map((value, index) => value.toFixed(2).padStart(index === 0 ? 11 : 10)).join('')}`);
  }
  await fanOut();
}

async function fanOut(): Promise<void> {
  const limiter = new ConcurrencyLimiter(availableParallelism());
  const runner = createBubblewrapRunner({ concurrency: limiter });
  if (!(await runner.available())) return;
  const calls = 8 * limiter.limit;
  const started = performance.now();
  await Promise.all(Array.from({ length: calls }, () => runner.run({ kind: 'command', argv: ['true'] }, { timeoutMs: 120_000 })));
  const elapsed = performance.now() - started;
  console.log(`fan-out: ${calls} bubblewrap calls at once took ${elapsed.toFixed(0)} ms; at most ${limiter.peak} sandboxes ran at once (limit ${limiter.limit})`);
}

await main();
