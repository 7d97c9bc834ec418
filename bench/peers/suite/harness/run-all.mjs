// Runs every adapter in a fresh `node --expose-gc harness/bench.mjs` process, against two mock servers of its own
// (separate processes: latency 0 ms for the sequential mode, 50 ms for the concurrent one). The raw fetch baseline
// runs first in every repetition, the other adapters rotate their order from one repetition to the next, and each
// result is appended to the output file as one JSON line as soon as it is measured.
//
//   node harness/run-all.mjs [--reps 3] [--modes seq,conc] [--seqSessions 200] [--concSessions 1000]
//                            [--adapters a/x.mjs,b/y.mjs] [--out results/run.jsonl]
// Adapter paths are relative to the folder above harness/; --adapters replaces the default list.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const options = new Map();
const argv = process.argv.slice(2);
for (let index = 0; index < argv.length; index += 2) {
  if (!argv[index].startsWith('--') || argv[index + 1] === undefined) {
    console.error(`run-all: expected --name value pairs, got "${argv[index]}"`);
    process.exit(2);
  }
  options.set(argv[index].slice(2), argv[index + 1]);
}
const repetitions = Number(options.get('reps') ?? 3);
const modes = (options.get('modes') ?? 'seq,conc').split(',');
const sessionsFor = { seq: Number(options.get('seqSessions') ?? 200), conc: Number(options.get('concSessions') ?? 1000) };
const output = resolve(root, options.get('out') ?? `results/run-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`);
/** A measurement that takes longer than this is stuck; it is killed and recorded as an error. */
const measurementLimitMs = 540_000;

const baseline = { path: 'raw/adapter.mjs', modes: ['seq', 'conc'] };
const defaults = [
  { path: 'raw/adapter-http.mjs', modes: ['seq', 'conc'] },
  { path: 'raw/adapter-stream.mjs', modes: ['seq'] },
  { path: 'oai/adapter.mjs', modes: ['seq', 'conc'] },
  { path: 'oai/adapter-trace-noop.mjs', modes: ['seq'] },
  { path: 'oai/adapter-trace-batch.mjs', modes: ['seq', 'conc'] },
  { path: 'aisdk/adapter.mjs', modes: ['seq', 'conc'] },
  { path: 'aisdk/adapter-openai.mjs', modes: ['seq'] },
  { path: 'aisdk/adapter-stream.mjs', modes: ['seq'] },
  { path: 'lg/adapter.mjs', modes: ['seq', 'conc'] },
  { path: 'lg/adapter-memory.mjs', modes: ['seq', 'conc'] },
  { path: 'lg/adapter-sqlite.mjs', modes: ['seq', 'conc'] },
  { path: 'mastra/adapter.mjs', modes: ['seq', 'conc'] },
];
const others = options.has('adapters')
  ? options.get('adapters').split(',').filter((path) => path !== '' && path !== baseline.path).map((path) => ({ path, modes: ['seq', 'conc'] }))
  : defaults;

function startMock(latencyMs) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [join(root, 'harness', 'mock.mjs')], { env: { ...process.env, PORT: '0', MOCK_LATENCY_MS: String(latencyMs) }, stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.on('data', (data) => {
      const ready = /MOCK_READY (\d+)/.exec(String(data));
      if (ready) resolvePromise({ child, url: `http://127.0.0.1:${ready[1]}/v1` });
    });
    child.on('exit', (code) => reject(new Error(`the mock server exited with code ${code} before it was ready`)));
  });
}

function measure(adapterPath, mode, url) {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, ['--expose-gc', join(root, 'harness', 'bench.mjs'), join(root, adapterPath), mode, url, String(sessionsFor[mode])], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const limit = setTimeout(() => child.kill('SIGKILL'), measurementLimitMs);
    child.stdout.on('data', (data) => (stdout += data));
    child.stderr.on('data', (data) => (stderr += data));
    child.on('exit', (code, signal) => {
      clearTimeout(limit);
      const line = stdout.split('\n').find((candidate) => candidate.startsWith('RESULT '));
      if (line !== undefined) resolvePromise({ ...JSON.parse(line.slice('RESULT '.length)), stderrTail: stderr.trim().slice(-300) || undefined });
      else resolvePromise({ adapter: adapterPath, mode, error: `exit ${code ?? signal}: ${(stderr || stdout).slice(-800)}` });
    });
  });
}

const number = (value, digits = 2) => (typeof value === 'number' ? value.toFixed(digits) : String(value));
mkdirSync(dirname(output), { recursive: true });
console.log(`writing ${output}`);
for (let repetition = 1; repetition <= repetitions; repetition += 1) {
  const mocks = { seq: await startMock(0), conc: await startMock(50) };
  const rotation = (repetition - 1) % Math.max(1, others.length);
  const order = [baseline, ...others.slice(rotation), ...others.slice(0, rotation)];
  for (const mode of modes) {
    for (const adapter of order) {
      if (!adapter.modes.includes(mode)) continue;
      const result = { ...(await measure(adapter.path, mode, mocks[mode].url)), rep: repetition, adapterPath: adapter.path };
      appendFileSync(output, `${JSON.stringify(result)}\n`);
      console.log(`rep ${repetition} ${mode.padEnd(4)} ${String(result.adapter).padEnd(34)} total=${number(result.totalMs)}ms perTurn=${number(result.msPerTurn)} cpu/turn=${number(result.clientCpuMsPerTurn)} rss=${number(result.peakRssMB)} eldP99=${number(result.eldP99Ms)} ${result.error ? `ERROR ${result.error}` : ''}`);
    }
  }
  for (const mock of Object.values(mocks)) mock.child.kill('SIGTERM');
}
console.log(`done: ${output}`);
