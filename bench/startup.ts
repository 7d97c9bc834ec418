// `npm run bench:startup`: how long the built `keel` command takes to start, against `node -e 0` as the floor.
//
//   npm run bench:startup [-- --reps 7] [--root <checkout with a built dist/>] [--out file.jsonl]
//
// Needs a build (`npm run build`): it measures dist/, as a user's installed package runs, not the TypeScript
// sources under tsx. Every measurement is a fresh process; the repetitions interleave the commands, so that a
// change in the machine's load affects them alike. Measured:
//   node -e 0              the floor: starting Node itself
//   import keel            `import('<root>/dist/index.js')`: what a program that imports the package pays
//   keel --version         the CLI's cold start with nothing to do
//   keel --help            the CLI with every command registered
//   keel run → request     from spawning `keel run` (SQLite in a fresh folder, an OpenAI-compatible model) to the
//                          first model request reaching a local mock server
//   keel run → exit        the same run to the process's exit (the mock answers at once; one model call)
// Each process is started with bench/lib/startup-probe.mjs, which reports its peak RSS at exit.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { repositoryRoot } from './lib/versions.ts';

interface Options {
  readonly reps: number;
  readonly root: string;
  readonly out: string | undefined;
}

interface Sample {
  readonly ms: number;
  readonly maxRssMB: number;
  /** For `keel run`: ms from spawn to the first model request. */
  readonly firstRequestMs?: number;
}

const probe = join(repositoryRoot, 'bench', 'lib', 'startup-probe.mjs');
const timeoutMs = 120_000;

function usageError(message: string): never {
  console.error(`${message}\nusage: npm run bench:startup -- [--reps N] [--root <checkout with a built dist/>] [--out file.jsonl]`);
  process.exit(2);
}

function parseOptions(argv: readonly string[]): Options {
  let reps = 7;
  let root = repositoryRoot;
  let out: string | undefined;
  for (let index = 0; index < argv.length; index += 1) {
    const flag = argv[index];
    const value = argv[index + 1];
    index += 1;
    if (flag === '--reps') {
      reps = Number(value);
      if (!Number.isInteger(reps) || reps < 1 || reps > 100) usageError(`--reps needs a whole number from 1 to 100, got ${String(value)}.`);
    } else if (flag === '--root' && value !== undefined) root = resolve(value);
    else if (flag === '--out' && value !== undefined) out = resolve(value);
    else usageError(`Unknown argument ${String(flag)}.`);
  }
  if (!existsSync(join(root, 'dist', 'cli', 'bin.js'))) usageError(`${join(root, 'dist', 'cli', 'bin.js')} does not exist: run \`npm run build\` in ${root} first.`);
  return { reps, root, out };
}

/** A Chat Completions endpoint that answers every request at once with a final message (streamed when asked), and notes when one arrives. */
async function startMock(): Promise<{ readonly url: string; readonly onRequest: (listener: () => void) => void; readonly close: () => Promise<void> }> {
  let listener: (() => void) | undefined;
  const server = http.createServer((request, response) => {
    listener?.();
    listener = undefined;
    let text = '';
    request.on('data', (data: Buffer) => (text += String(data)));
    request.on('end', () => {
      const common = { id: 'chatcmpl-startup', created: Math.floor(Date.now() / 1000), model: 'startup-mock' };
      const usage = { prompt_tokens: 20, completion_tokens: 1, total_tokens: 21 };
      if ((JSON.parse(text) as { stream?: boolean }).stream === true) {
        const chunk = (choice: object, extra: object = {}): string => `data: ${JSON.stringify({ ...common, object: 'chat.completion.chunk', choices: [{ index: 0, ...choice }], ...extra })}\n\n`;
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        response.end(`${chunk({ delta: { role: 'assistant', content: 'done' }, finish_reason: null })}${chunk({ delta: {}, finish_reason: 'stop' }, { usage })}data: [DONE]\n\n`);
        return;
      }
      const body = JSON.stringify({ ...common, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'done' }, finish_reason: 'stop' }], usage });
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      response.end(body);
    });
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    onRequest: (next) => (listener = next),
    close: () => new Promise((resolveClose) => server.close(() => resolveClose())),
  };
}

/** Runs one process to its exit; `firstRequest`, when given, resolves with the time of the first model request. */
function timeProcess(args: readonly string[], cwd: string, firstRequest?: Promise<number>): Promise<Sample> {
  return new Promise((resolveSample, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', pathToFileURL(probe).href, ...args], {
      cwd,
      env: { ...process.env, OPENAI_API_KEY: 'sk-startup', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (data: Buffer) => (stdout += String(data)));
    child.stderr.on('data', (data: Buffer) => (stderr += String(data)));
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      const ms = performance.now() - started;
      clearTimeout(killer);
      const probeLine = /STARTUP_PROBE (\{.*\})/.exec(stderr);
      if (code !== 0 || probeLine?.[1] === undefined) {
        reject(new Error(`node ${args.join(' ')} exited ${signal ?? code}: ${`${stdout}\n${stderr}`.trim().slice(-1500)}`));
        return;
      }
      const { maxRssKB } = JSON.parse(probeLine[1]) as { maxRssKB: number };
      const sample = { ms, maxRssMB: maxRssKB / 1024 };
      if (firstRequest === undefined) resolveSample(sample);
      else void firstRequest.then((at) => resolveSample({ ...sample, firstRequestMs: at - started }));
    });
  });
}

interface Case {
  readonly name: string;
  readonly run: () => Promise<Sample>;
}

function cases(root: string, mock: Awaited<ReturnType<typeof startMock>>, scratch: string): Case[] {
  const bin = join(root, 'dist', 'cli', 'bin.js');
  const index = pathToFileURL(join(root, 'dist', 'index.js')).href;
  const agentPath = join(scratch, 'agent.mjs');
  writeFileSync(agentPath, `import { defineAgent } from ${JSON.stringify(index)};\nexport default defineAgent({ name: 'startup', instructions: 'Answer briefly.', tools: [] });\n`);
  let run = 0;
  const keelRun = async (): Promise<Sample> => {
    run += 1;
    const firstRequest = new Promise<number>((resolveRequest) => mock.onRequest(() => resolveRequest(performance.now())));
    return timeProcess([bin, 'run', agentPath, 'Say done.', '--model', `openai-compatible:startup-mock@${mock.url}`, '--db', join(scratch, `run-${run}.db`)], scratch, firstRequest);
  };
  return [
    { name: 'node -e 0 (floor)', run: () => timeProcess(['-e', '0'], scratch) },
    { name: 'import keel (dist/index.js)', run: () => timeProcess(['--input-type=module', '-e', `await import(${JSON.stringify(index)})`], scratch) },
    { name: 'keel --version', run: () => timeProcess([bin, '--version'], scratch) },
    { name: 'keel --help', run: () => timeProcess([bin, '--help'], scratch) },
    { name: 'keel run', run: keelRun },
  ];
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] ?? Number.NaN) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

const fixed = (value: number, digits = 0): string => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const scratch = mkdtempSync(join(tmpdir(), 'keel-startup-'));
  const mock = await startMock();
  const samples = new Map<string, Sample[]>();
  try {
    const all = cases(options.root, mock, scratch);
    // One unmeasured round fills the file system cache, as for a command a user runs often.
    for (const entry of all) await entry.run();
    for (let rep = 0; rep < options.reps; rep += 1) {
      for (const entry of all) {
        const sample = await entry.run();
        samples.set(entry.name, [...(samples.get(entry.name) ?? []), sample]);
        if (options.out !== undefined) appendFileSync(options.out, `${JSON.stringify({ name: entry.name, rep, root: options.root, node: process.version, ...sample })}\n`);
      }
    }
  } finally {
    await mock.close();
    rmSync(scratch, { recursive: true, force: true });
  }
  const floor = median((samples.get('node -e 0 (floor)') ?? []).map((sample) => sample.ms));
  console.log(`\nStartup, ${options.reps} repetitions, medians (${options.root}, Node ${process.version})\n`);
  console.log('| command | wall ms | × floor | first model request ms | peak RSS MB |\n|---|---:|---:|---:|---:|');
  for (const [name, list] of samples) {
    const wall = median(list.map((sample) => sample.ms));
    const firstRequests = list.flatMap((sample) => (sample.firstRequestMs === undefined ? [] : [sample.firstRequestMs]));
    const first = firstRequests.length === 0 ? '' : fixed(median(firstRequests));
    console.log(`| ${name} | ${fixed(wall)} | ${fixed(wall / floor, 1)} | ${first} | ${fixed(median(list.map((sample) => sample.maxRssMB)), 1)} |`);
  }
}

await main();
