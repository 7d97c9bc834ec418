// `npm run bench`: Keel's client-side overhead per turn against a bare fetch loop, on the same mock server in
// the same run. Not a test: it prints numbers, and fails only when a measurement went wrong.
//
//   npm run bench [-- --quick] [--reps N] [--adapters keel-sqlite,keel-memory] [--out file.jsonl] [--profile]
//
// It starts two mock servers as child processes (bench/workload-mock.ts; latency 0 and 50 ms), then runs every
// adapter in a fresh process (bench/measure.ts): first all `seq` measurements, then all `conc` ones (skipped with
// --quick). In each repetition the raw-fetch baseline runs first and the other adapters rotate. With several
// repetitions the tables show medians, and ratios are the median of the per-repetition ratios to raw-fetch.
// The raw results go to bench/results/turn-overhead.jsonl, one JSON object per measurement.
//   --seq-sessions N / --conc-sessions N   change the measured sessions (defaults 200 and 1,000)
//   --profile   afterwards, one extra seq run per Keel adapter with a CPU profile of its measured phase, summarised
//               (bench/results/profiles/; not in the tables, since the profiler slows the run down)
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative, resolve } from 'node:path';
import { adapterNames, baselineAdapter, isAdapterName } from './adapters/index.ts';
import type { AdapterName } from './adapters/index.ts';
import { repositoryRoot } from './lib/versions.ts';
import type { MeasureResult, Mode } from './measure.ts';
import { summarizeProfileFile } from './profile-summary.ts';

interface Options {
  readonly quick: boolean;
  readonly reps: number;
  readonly adapters: readonly AdapterName[];
  readonly out: string;
  readonly seqSessions: number;
  readonly concSessions: number;
  readonly profile: boolean;
}

/** Which modes each adapter is measured in; the streaming baseline only sequentially, as in the peer baseline. */
const modesOf: Readonly<Record<AdapterName, readonly Mode[]>> = {
  'raw-fetch': ['seq', 'conc'],
  'raw-node-http': ['seq', 'conc'],
  'raw-fetch-stream': ['seq'],
  'keel-sqlite': ['seq', 'conc'],
  'keel-sqlite-stream': ['seq', 'conc'],
  'keel-memory': ['seq', 'conc'],
};

const measureScript = join(repositoryRoot, 'bench', 'measure.ts');
const mockScript = join(repositoryRoot, 'bench', 'workload-mock.ts');
const measurementTimeoutMs = 300_000;
const children = new Set<ChildProcess>();

function usageError(message: string): never {
  console.error(`${message}\nusage: npm run bench -- [--quick] [--reps N] [--adapters ${adapterNames.join(',')}] [--out file.jsonl] [--seq-sessions N] [--conc-sessions N] [--profile]`);
  process.exit(2);
}

function parseOptions(argv: readonly string[]): Options {
  let quick = false;
  let profile = false;
  let reps = 1;
  let adapters: AdapterName[] = [...adapterNames];
  let out = join(repositoryRoot, 'bench', 'results', 'turn-overhead.jsonl');
  let seqSessions = 200;
  let concSessions = 1000;
  const count = (flag: string, text: string | undefined): number => {
    const value = Number(text);
    if (text === undefined || !Number.isInteger(value) || value < 1) usageError(`${flag} needs a positive integer, got ${String(text)}.`);
    return value;
  };
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index];
    const [flag, inline] = arg?.startsWith('--') === true && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++index];
    switch (flag) {
      case '--quick':
        quick = true;
        break;
      case '--profile':
        profile = true;
        break;
      case '--reps':
        reps = count('--reps', value());
        break;
      case '--seq-sessions':
        seqSessions = count('--seq-sessions', value());
        break;
      case '--conc-sessions':
        concSessions = count('--conc-sessions', value());
        break;
      case '--out':
        out = resolve(value() ?? usageError('--out needs a file.'));
        break;
      case '--adapters': {
        const names = (value() ?? '').split(',').filter((name) => name !== '');
        const unknown = names.filter((name) => !isAdapterName(name));
        if (names.length === 0 || unknown.length > 0) usageError(`Unknown adapters: ${unknown.join(', ') || '(none given)'}; known: ${adapterNames.join(', ')}.`);
        // The baseline always runs; the tables keep the usual order.
        adapters = adapterNames.filter((name) => name === baselineAdapter || names.includes(name));
        break;
      }
      default:
        usageError(`Unknown argument ${String(arg)}.`);
    }
  }
  return { quick, reps, adapters, out, seqSessions, concSessions, profile };
}

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Stops the children this run started, each by its own pid. */
function killChildren(signal: NodeJS.Signals = 'SIGTERM'): void {
  for (const child of children) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, signal);
      } catch {
        // Already gone.
      }
    }
  }
}

interface Mock {
  readonly child: ChildProcess;
  readonly url: string;
}

function startMock(latencyMs: number): Promise<Mock> {
  return new Promise((resolvePromise, reject) => {
    const child = track(
      spawn(process.execPath, ['--import', 'tsx', mockScript], {
        cwd: repositoryRoot,
        env: { ...process.env, PORT: '0', MOCK_LATENCY_MS: String(latencyMs) },
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    let output = '';
    const timer = setTimeout(() => reject(new Error(`The mock server (latency ${latencyMs} ms) did not start within 30 s: ${output}`)), 30_000);
    child.stdout?.on('data', (data: Buffer) => {
      output += String(data);
      const ready = /MOCK_READY (\d+)/.exec(output);
      if (ready !== null) {
        clearTimeout(timer);
        resolvePromise({ child, url: `http://127.0.0.1:${ready[1]}` });
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`The mock server (latency ${latencyMs} ms) exited (${signal ?? code}) before it was ready: ${output}`));
    });
  });
}

function runMeasurement(adapter: AdapterName, mode: Mode, mockURL: string, sessions: number, env: Readonly<Record<string, string>> = {}): Promise<MeasureResult> {
  return new Promise((resolvePromise) => {
    const child = track(
      spawn(process.execPath, ['--expose-gc', '--import', 'tsx', measureScript, adapter, mode, mockURL, String(sessions)], {
        cwd: repositoryRoot,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    );
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (data: Buffer) => (stdout += String(data)));
    child.stderr?.on('data', (data: Buffer) => (stderr += String(data)));
    const killer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, measurementTimeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(killer);
      const line = stdout.split('\n').find((candidate) => candidate.startsWith('RESULT '));
      if (line !== undefined) {
        resolvePromise(JSON.parse(line.slice('RESULT '.length)) as MeasureResult);
        return;
      }
      const why = signal === 'SIGKILL' ? `killed after ${measurementTimeoutMs / 1000} s` : `exited (${signal ?? code}) without a result`;
      resolvePromise({ adapter, mode, sessions, turns: 10, warmup: 0, error: `${why}: ${(stderr || stdout).trim().slice(-1500)}` });
    });
  });
}

type Row = MeasureResult & { readonly rep: number };

function median(values: readonly number[]): number {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((left, right) => left - right);
  if (sorted.length === 0) return Number.NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

function fixed(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : 'n/a';
}

function signed(value: number, digits = 2): string {
  return Number.isFinite(value) ? `${value >= 0 ? '+' : '−'}${fixed(Math.abs(value), digits)}` : 'n/a';
}

type NumericKey = { [Key in keyof MeasureResult]-?: NonNullable<MeasureResult[Key]> extends number ? Key : never }[keyof MeasureResult];

function tables(rows: readonly Row[], options: Options): string {
  const lines: string[] = [];
  for (const mode of ['seq', 'conc'] as const) {
    const good = rows.filter((row) => row.mode === mode && row.error === null);
    if (good.length === 0) continue;
    const baseline = new Map(good.filter((row) => row.adapter === baselineAdapter).map((row) => [row.rep, row]));
    const names = options.adapters.filter((name) => good.some((row) => row.adapter === name));
    const of = (name: string) => good.filter((row) => row.adapter === name);
    const med = (name: string, key: NumericKey) => median(of(name).map((row) => row[key] ?? Number.NaN));
    const perRep = (name: string, key: NumericKey, combine: (value: number, base: number) => number) =>
      median(of(name).flatMap((row) => {
        const base = baseline.get(row.rep)?.[key];
        const value = row[key];
        return base === undefined || value === undefined ? [] : [combine(value, base)];
      }));
    const ratio = (name: string, key: NumericKey) => perRep(name, key, (value, base) => value / base);
    const delta = (name: string, key: NumericKey) => perRep(name, key, (value, base) => value - base);
    const reps = new Set(good.map((row) => row.rep)).size;
    const basis = reps > 1 ? `median of ${reps} repetitions` : 'one repetition';
    if (mode === 'seq') {
      lines.push(`### Sequential: ${options.seqSessions} sessions × 10 turns one after another, mock latency 0 (${basis})`, '');
      lines.push('| adapter | ms/turn (wall) | × raw-fetch | +ms/turn over raw-fetch | client CPU ms/turn | × raw CPU | +CPU ms/turn over raw-fetch |');
      lines.push('|---|---:|---:|---:|---:|---:|---:|');
      for (const name of names) {
        lines.push(
          `| ${name === baselineAdapter ? `**${name}** (baseline)` : name} | ${fixed(med(name, 'msPerTurn'), 3)} | ${fixed(ratio(name, 'msPerTurn'))} | ${signed(delta(name, 'msPerTurn'), 3)} | ${fixed(med(name, 'clientCpuMsPerTurn'), 3)} | ${fixed(ratio(name, 'clientCpuMsPerTurn'))} | ${signed(delta(name, 'clientCpuMsPerTurn'), 3)} |`,
        );
      }
    } else {
      lines.push(`### Concurrent: ${options.concSessions.toLocaleString('en-US')} sessions × 10 turns at once, mock latency 50 ms per call (${basis})`, '');
      lines.push('| adapter | wall ms | × raw-fetch | peak RSS MB | ELD p99 ms | client CPU ms/turn | heap held per session KB |');
      lines.push('|---|---:|---:|---:|---:|---:|---:|');
      for (const name of names) {
        lines.push(
          `| ${name === baselineAdapter ? `**${name}** (baseline)` : name} | ${fixed(med(name, 'totalMs'), 0)} | ${fixed(ratio(name, 'totalMs'))} | ${fixed(med(name, 'peakRssMB'), 0)} | ${fixed(med(name, 'eldP99Ms'), 0)} | ${fixed(med(name, 'clientCpuMsPerTurn'), 3)} | ${fixed(med(name, 'retainedHeapKBPerSession'), 1)} |`,
        );
      }
    }
    const journal = names.flatMap((name) => {
      const extra = (key: string) => median(of(name).map((row) => row.extra?.[key]).filter((value): value is number => typeof value === 'number'));
      const disk = extra('journalKBPerSession');
      if (!Number.isFinite(disk)) return [];
      return [
        `${name} ${fixed(extra('eventsPerSession'), 0)} events (${fixed(extra('eventKBPerSession'), 1)} KB) + ${fixed(extra('blobsPerSession'), 0)} request blobs (${fixed(extra('blobKBPerSession'), 1)} KB), ${fixed(disk, 1)} KB of database file`,
      ];
    });
    if (journal.length > 0) lines.push('', `SQLite journal per session, after a checkpoint: ${journal.join('; ')}.`);
    lines.push('');
  }
  const failures = rows.filter((row) => row.error !== null);
  for (const failure of failures) lines.push(`**ERROR** rep ${failure.rep} ${failure.mode} ${failure.adapter}: ${failure.error ?? ''}`, '');
  return lines.join('\n');
}

/** The commit measured, marked when src/ has uncommitted changes; empty outside a git checkout. */
function sourceRevision(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repositoryRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const commit = git('rev-parse', '--short', 'HEAD');
    return git('status', '--porcelain', '--untracked-files=no', '--', 'src') === '' ? commit : `${commit} + uncommitted changes in src/`;
  } catch {
    return '';
  }
}

function machineLine(): string {
  const cpus = os.cpus();
  const load = os.loadavg().map((value) => value.toFixed(1)).join(' ');
  return `${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GB, Node ${process.version}, load average ${load}`;
}

function progress(row: Row): string {
  const value = (number: number | undefined, digits: number) => (number === undefined ? '-' : fixed(number, digits));
  const figures =
    row.mode === 'seq'
      ? `ms/turn ${value(row.msPerTurn, 3)}  cpu/turn ${value(row.clientCpuMsPerTurn, 3)}`
      : `wall ${value(row.totalMs, 0)} ms  rss ${value(row.peakRssMB, 0)} MB  eld p99 ${value(row.eldP99Ms, 0)} ms`;
  return `rep ${row.rep} ${row.mode.padEnd(4)} ${row.adapter.padEnd(20)} ${row.error === null ? figures : `ERROR ${row.error.split('\n')[0] ?? ''}`}`;
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const modes: readonly Mode[] = options.quick ? ['seq'] : ['seq', 'conc'];
  const runId = new Date().toISOString();
  const started = performance.now();
  const machine = machineLine();
  const revision = sourceRevision();
  console.error(`turn-overhead: ${options.reps} repetition(s), ${modes.join(' + ')}, adapters ${options.adapters.join(', ')}; ${machine}`);

  const mocks: Record<Mode, Mock> = { seq: await startMock(0), conc: await startMock(50) };
  const rows: Row[] = [];
  const others = options.adapters.filter((name) => name !== baselineAdapter);
  for (let rep = 1; rep <= options.reps; rep += 1) {
    const shift = (rep - 1) % Math.max(1, others.length);
    const order = [baselineAdapter, ...others.slice(shift), ...others.slice(0, shift)];
    for (const mode of modes) {
      for (const adapter of order) {
        if (!modesOf[adapter].includes(mode)) continue;
        const result = await runMeasurement(adapter, mode, mocks[mode].url, mode === 'seq' ? options.seqSessions : options.concSessions);
        const row: Row = { ...result, rep };
        rows.push(row);
        console.error(progress(row));
      }
    }
  }

  mkdirSync(resolve(options.out, '..'), { recursive: true });
  const host = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model.trim() ?? '', node: process.version, loadavg: os.loadavg() };
  writeFileSync(options.out, rows.map((row) => JSON.stringify({ runId, revision, ...row, host })).join('\n') + '\n');

  const minutes = (performance.now() - started) / 60_000;
  console.log(`## Keel turn overhead (${runId}${revision === '' ? '' : `, ${revision}`}, ${minutes.toFixed(1)} min)\n`);
  console.log(`Machine: ${machine} at the end. Client and mock share the cores; wall times include any other load, CPU times do not.\n`);
  console.log(tables(rows, options));
  console.log(`Raw results: ${relative(process.cwd(), options.out)}\n`);

  if (options.profile) {
    const folder = join(repositoryRoot, 'bench', 'results', 'profiles');
    mkdirSync(folder, { recursive: true });
    for (const adapter of options.adapters.filter((name) => name.startsWith('keel-'))) {
      const file = join(folder, `${adapter}-seq.cpuprofile`);
      rmSync(file, { force: true });
      const result = await runMeasurement(adapter, 'seq', mocks.seq.url, options.seqSessions, { BENCH_CPU_PROFILE: file });
      if (result.error !== null || !existsSync(file)) {
        console.log(`\nProfile of ${adapter} failed: ${result.error ?? 'no profile written'}`);
        continue;
      }
      console.log(`\n### CPU profile of the measured phase: ${adapter}, seq (${relative(process.cwd(), file)})\n\n\`\`\`\n${summarizeProfileFile(file, 20)}\n\`\`\``);
    }
  }
  return rows.some((row) => row.error !== null) ? 1 : 0;
}

process.once('SIGINT', () => {
  killChildren();
  process.exit(130);
});
process.once('SIGTERM', () => {
  killChildren();
  process.exit(143);
});
process.once('exit', () => killChildren('SIGKILL'));

main().then(
  (code) => {
    killChildren();
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error);
    killChildren();
    process.exitCode = 1;
  },
);
