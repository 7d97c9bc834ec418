// Runs (start or resume) a planner session whose plan has two independent steps and a join. On `start` it kills itself
// with SIGKILL while the slow step's tool runs, right after the fast step's outcome was journaled: the middle of the
// graph. Every execution of the tool is logged in `attempts.log` (outside the process) with its idempotency key.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineAgent } from '../../src/loop/index.ts';
import { createKeel } from '../../src/runtime/index.ts';
import { createSqliteStore } from '../../src/store/index.ts';
import type { Journal } from '../../src/spec/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { answer, callTool, plannerModel, planStep } from './planner-fixtures.ts';

const [mode, databasePath, effects, sessionId] = process.argv.slice(2);
if (mode === undefined || databasePath === undefined || effects === undefined || sessionId === undefined) {
  throw new Error('usage: planner-crash-child <start|resume> <db> <effects-folder> <sessionId>');
}
const effectsFolder: string = effects;

let fastEnded: () => void = () => undefined;
const fastEndedOnce = new Promise<void>((resolve) => {
  fastEnded = resolve;
});

const store = createSqliteStore({ path: databasePath });
const inner = store.journal;
const journal: Journal = {
  read: (id, from) => inner.read(id, from),
  lastSeq: (id) => inner.lastSeq(id),
  listSessions: (options) => inner.listSessions(options),
  close: () => inner.close(),
  async append(id, events, expectedSeq) {
    const last = await inner.append(id, events, expectedSeq);
    if (events.some((event) => event.type === 'plan-step-end' && event.stepId === 'fast')) fastEnded();
    return last;
  },
};

const work = defineTool({
  name: 'work',
  description: 'Does one step of work.',
  input: z.object({ name: z.string() }),
  risk: 'write',
  timeoutMs: 30_000,
  execute: async ({ name }, context) => {
    appendFileSync(join(effectsFolder, 'attempts.log'), `${name} ${context.idempotencyKey}\n`);
    if (name === 'slow' && mode === 'start') {
      await fastEndedOnce;
      process.kill(process.pid, 'SIGKILL');
    }
    return `${name} worked`;
  },
});

const model = plannerModel({
  plans: [{ goal: 'Both halves, then join', steps: [planStep('fast', [], { tool: 'work' }), planStep('slow', [], { tool: 'work' }), planStep('join', ['fast', 'slow'])] }],
  steps: {
    fast: [callTool('work', { name: 'fast' }), answer('fast done')],
    slow: [callTool('work', { name: 'slow' }), answer('slow done')],
    join: [answer('joined')],
  },
});
export const agent = defineAgent({ name: 'halves', instructions: 'Do both halves.', tools: [work], model: 'planner', streaming: false, planner: { maxParallel: 2 } });

const keel = createKeel({ journal, blobs: store.blobs, leases: store.leases, models: { planner: model }, modelRetries: 0, env: {} });
const run = mode === 'start' ? keel.run(agent, { task: 'Do both halves and join them.', sessionId }) : await keel.resume(agent, sessionId);
const result = await run.result;
process.stdout.write(`RESULT ${JSON.stringify({ status: result.status, output: result.output, error: result.error })}\n`);
await keel.close();
await store.close();
