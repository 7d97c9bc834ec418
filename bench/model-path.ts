// The model path alone: client CPU and wall time per model call through the gateway and the OpenAI direct client,
// plain and streamed, against the benchmark's mock server (bench/workload-mock.ts) in its own process. No journal,
// no loop: what src/model costs per turn, and how much streaming adds to it.
//
//   node --import tsx bench/model-path.ts [--sessions N] [--rounds N] [--client direct|sdk] [--profile file.cpuprofile] [--only plain|stream]
//
// Each round measures a plain and a streamed run of N sessions × 10 calls, alternating which goes first; the table
// shows medians over the rounds and the stream/plain ratio of each round's CPU.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGateway, createOpenAIModel } from '../src/index.ts';
import type { ContentBlock, Message, ModelClientKind, ModelRequest } from '../src/index.ts';

interface Options {
  readonly sessions: number;
  readonly rounds: number;
  readonly client: ModelClientKind;
  readonly profile: string | undefined;
  /** Which runs are measured: both (the default), or only one of them (for a profile of that path). */
  readonly only: 'plain' | 'stream' | undefined;
}

function parseOptions(argv: readonly string[]): Options {
  let sessions = 100;
  let rounds = 5;
  let client: ModelClientKind = 'direct';
  let profile: string | undefined;
  let only: 'plain' | 'stream' | undefined;
  for (let index = 0; index < argv.length; index += 1) {
    const flag = argv[index];
    const value = argv[index + 1];
    index += 1;
    if (flag === '--sessions') sessions = Number(value);
    else if (flag === '--rounds') rounds = Number(value);
    else if (flag === '--client' && (value === 'direct' || value === 'sdk')) client = value;
    else if (flag === '--profile') profile = value;
    else if (flag === '--only' && (value === 'plain' || value === 'stream')) only = value;
    else throw new Error(`usage: model-path.ts [--sessions N] [--rounds N] [--client direct|sdk] [--profile file.cpuprofile] [--only plain|stream]; got ${String(flag)}`);
  }
  if (!Number.isInteger(sessions) || sessions < 1 || !Number.isInteger(rounds) || rounds < 1) throw new Error('--sessions and --rounds take positive integers.');
  return { sessions, rounds, client, profile, only };
}

const turnsPerSession = 10;
const lookupTool = {
  name: 'lookup',
  description: 'Look up a key',
  inputSchema: { properties: { key: { type: 'string' } }, required: ['key'], additionalProperties: false },
};

async function startMock(): Promise<{ readonly baseURL: string; readonly stop: () => void }> {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'workload-mock.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, PORT: '0', MOCK_TURNS: String(turnsPerSession) }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    child.stdout.on('data', (part: Buffer) => {
      text += part.toString('utf8');
      const match = /MOCK_READY (\d+)/.exec(text);
      if (match !== null) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`the mock exited (${String(code)}) before it was ready`)));
  });
  return { baseURL: `http://127.0.0.1:${port}/v1`, stop: () => child.kill() };
}

/** One session as the loop would send it: the conversation grows by the answer and a 200-character tool result. */
async function runSession(gateway: ReturnType<typeof createGateway>, streaming: boolean, session: number): Promise<void> {
  const messages: Message[] = [{ role: 'user', content: [{ type: 'text', text: `Look up the keys and answer. (session ${session})` }] }];
  const signal = new AbortController().signal;
  for (let turn = 1; turn <= turnsPerSession; turn += 1) {
    const request: ModelRequest = { system: 'You are a helpful agent.', messages, tools: [lookupTool], maxOutputTokens: 1024 };
    const { response } = await gateway.call(request, { signal, streaming });
    messages.push({ role: 'assistant', content: response.content });
    const calls = response.content.filter((block): block is Extract<ContentBlock, { type: 'tool_use' }> => block.type === 'tool_use');
    if (calls.length === 0) {
      if (turn !== turnsPerSession) throw new Error(`session ${session} ended at turn ${turn}`);
      return;
    }
    messages.push({ role: 'user', content: calls.map((call) => ({ type: 'tool_result' as const, toolUseId: call.id, content: `value:${JSON.stringify(call.input)}:`.padEnd(200, 'x'), isError: false })) });
  }
  throw new Error(`session ${session} did not end after ${turnsPerSession} turns`);
}

interface Sample {
  readonly cpuMsPerCall: number;
  readonly wallMsPerCall: number;
}

async function measure(gateway: ReturnType<typeof createGateway>, streaming: boolean, sessions: number): Promise<Sample> {
  const cpuBefore = process.cpuUsage();
  const wallBefore = performance.now();
  for (let session = 0; session < sessions; session += 1) await runSession(gateway, streaming, session);
  const cpu = process.cpuUsage(cpuBefore);
  const calls = sessions * turnsPerSession;
  return { cpuMsPerCall: (cpu.user + cpu.system) / 1000 / calls, wallMsPerCall: (performance.now() - wallBefore) / calls };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const mock = await startMock();
  try {
    const gateway = createGateway(createOpenAIModel({ modelId: 'mock-model', apiKey: 'sk-mock', baseURL: mock.baseURL, client: options.client }));
    // Warm-up: JIT, connections.
    await measure(gateway, false, Math.max(10, options.sessions / 5));
    await measure(gateway, true, Math.max(10, options.sessions / 5));
    const profiler = options.profile === undefined ? undefined : new Session();
    if (profiler !== undefined) {
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.start');
    }
    const plain: Sample[] = [];
    const streamed: Sample[] = [];
    for (let round = 0; round < options.rounds; round += 1) {
      const order = options.only === undefined ? (round % 2 === 0 ? [false, true] : [true, false]) : [options.only === 'stream'];
      for (const streaming of order) (streaming ? streamed : plain).push(await measure(gateway, streaming, options.sessions));
    }
    if (profiler !== undefined && options.profile !== undefined) {
      const { profile } = await profiler.post('Profiler.stop');
      writeFileSync(options.profile, JSON.stringify(profile));
      profiler.disconnect();
    }
    const ratios = options.only === undefined ? plain.map((sample, index) => (streamed[index] as Sample).cpuMsPerCall / sample.cpuMsPerCall) : [];
    const row = (name: string, samples: readonly Sample[]): string =>
      `${name.padEnd(8)} cpu ms/call ${median(samples.map((sample) => sample.cpuMsPerCall)).toFixed(3)}  wall ms/call ${median(samples.map((sample) => sample.wallMsPerCall)).toFixed(3)}  (wall-cpu ${median(samples.map((sample) => sample.wallMsPerCall - sample.cpuMsPerCall)).toFixed(3)})`;
    console.log(`model-path: client ${options.client}, ${options.rounds} rounds × ${options.sessions} sessions × ${turnsPerSession} calls`);
    if (plain.length > 0) console.log(row('plain', plain));
    if (streamed.length > 0) console.log(row('stream', streamed));
    if (ratios.length > 0) console.log(`stream/plain cpu ${median(ratios).toFixed(3)} (rounds: ${ratios.map((ratio) => ratio.toFixed(2)).join(' ')})`);
  } finally {
    mock.stop();
  }
}

await main();
