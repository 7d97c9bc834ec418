// The SQLite journal's cost per turn by itself, without a model, a loop or HTTP: each turn stores a request blob and
// makes the four appends a tool-calling turn of the agent loop makes (turn-start with the context and the model
// request; the response with its tool request; the tool decision; the tool result), with event sizes like
// `npm run bench`'s workload. `seq` runs the sessions one after another; `conc` runs them all at once, each turn of
// every session in the same turn of the event loop, as sessions waiting on the same slow model do.
//   npx tsx bench/journal-commit.ts [--sessions 300] [--turns 10] [--mode seq|conc|both] [--synchronous normal|full] [--reps 3]
// Prints client CPU and wall time per turn (the median of the repetitions), each repetition on a fresh file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createSqliteStore } from '../src/store/index.ts';
import type { SqliteSynchronous } from '../src/store/index.ts';
import type { EventBody } from '../src/spec/events.ts';
import { sessionStartBody, stampEvents } from '../src/testing/contracts/journal-samples.ts';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '300' },
    turns: { type: 'string', default: '10' },
    mode: { type: 'string', default: 'both' },
    synchronous: { type: 'string', default: 'normal' },
    reps: { type: 'string', default: '3' },
  },
});
const sessions = Number(values.sessions);
const turns = Number(values.turns);
const reps = Number(values.reps);
const synchronous = values.synchronous as SqliteSynchronous;
const modes = values.mode === 'both' ? (['seq', 'conc'] as const) : [values.mode as 'seq' | 'conc'];

const usage = { inputTokens: 812, outputTokens: 64, cacheReadTokens: 0, cacheWriteTokens: 0 };

/** The four appends of one tool-calling turn, in the loop's order. */
function turnBatches(turn: number, requestHash: string): EventBody[][] {
  const callId = `call_${turn}`;
  return [
    [
      { type: 'turn-start', turn },
      { type: 'context-assemble', turn, requestHash, messageCount: 2 * turn, tokens: { system: 12, tools: 40, history: 60 * turn, total: 52 + 60 * turn }, tokenCounting: 'estimate', durationMs: 0 },
      { type: 'model-request', turn, requestHash, provider: 'openai', model: 'mock-model', streaming: false },
    ],
    [
      { type: 'model-response', turn, responseId: `chatcmpl_${turn}`, model: 'mock-model', content: [{ type: 'tool_use', id: callId, name: 'lookup', input: { key: `k${turn}` } }], stopReason: 'tool_use', providerStopReason: 'tool_calls', usage, costUsd: null, latencyMs: 1, retries: 0 },
      { type: 'tool-request', turn, callId, tool: 'lookup', input: { key: `k${turn}` }, idempotencyKey: `idem_${'a'.repeat(40)}_${turn}` },
    ],
    [{ type: 'tool-decision', turn, callId, tool: 'lookup', decision: 'allow', reason: 'read-only tool' }],
    [{ type: 'tool-result', turn, callId, tool: 'lookup', output: `value:k${turn}:`.padEnd(200, 'x'), latencyMs: 0 }],
  ] as unknown as EventBody[][];
}

interface Figures {
  readonly cpuMsPerTurn: number;
  readonly wallMsPerTurn: number;
}

async function measure(mode: 'seq' | 'conc'): Promise<Figures> {
  const folder = mkdtempSync(join(tmpdir(), 'keel-journal-commit-'));
  const store = createSqliteStore({ path: join(folder, 'keel.db'), synchronous });
  try {
    const lastSeq = new Map<string, number>();
    const append = async (sessionId: string, bodies: readonly EventBody[]): Promise<void> => {
      const from = lastSeq.get(sessionId) ?? 0;
      lastSeq.set(sessionId, await store.journal.append(sessionId, stampEvents(sessionId, bodies, from + 1, Date.now()), from));
    };
    const runTurn = async (sessionId: string, turn: number): Promise<void> => {
      // Distinct per session and turn, as assembled prompts are.
      const requestHash = await store.blobs.put(`${sessionId} turn ${turn} `.padEnd(3_200, 'p'));
      for (const batch of turnBatches(turn, requestHash)) await append(sessionId, batch);
    };
    const ids = Array.from({ length: sessions }, (_, index) => `ses_${String(index).padStart(6, '0')}`);
    const cpu = process.cpuUsage();
    const started = performance.now();
    if (mode === 'seq') {
      for (const id of ids) {
        await append(id, [sessionStartBody('bench-lookup', 'Look up the keys and answer.')]);
        for (let turn = 1; turn <= turns; turn += 1) await runTurn(id, turn);
      }
    } else {
      await Promise.all(ids.map((id) => append(id, [sessionStartBody('bench-lookup', 'Look up the keys and answer.')])));
      for (let turn = 1; turn <= turns; turn += 1) await Promise.all(ids.map((id) => runTurn(id, turn)));
    }
    const wallMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    const count = sessions * turns;
    return { cpuMsPerTurn: (used.user + used.system) / 1000 / count, wallMsPerTurn: wallMs / count };
  } finally {
    await store.close();
    rmSync(folder, { recursive: true, force: true });
  }
}

const median = (numbers: readonly number[]): number => [...numbers].sort((left, right) => left - right)[Math.floor(numbers.length / 2)]!;

for (const mode of modes) {
  const runs: Figures[] = [];
  for (let rep = 0; rep < reps; rep += 1) runs.push(await measure(mode));
  const cpu = median(runs.map((run) => run.cpuMsPerTurn));
  const wall = median(runs.map((run) => run.wallMsPerTurn));
  console.log(`journal-commit ${mode.padEnd(4)} ${sessions} sessions × ${turns} turns, synchronous ${synchronous}: CPU ${(cpu * 1000).toFixed(0)} µs/turn, wall ${(wall * 1000).toFixed(0)} µs/turn (median of ${reps})`);
}
