// Runs (start or resume) a workflow of every step kind and, when told, kills itself with SIGKILL right after its Nth
// journal append (over the workflow's session and its agent step's child session). Effects live outside the process:
// every execution is logged in `attempts.log`, and each is applied at most once per idempotency key (`applied/<key>`,
// `effects.log`), as a payment or mail API would.
import { appendFileSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineAgent } from '../../src/loop/index.ts';
import { createScriptedModel } from '../../src/model/index.ts';
import { createKeel } from '../../src/runtime/index.ts';
import { createSqliteIdempotencyStore, createSqliteStore } from '../../src/store/index.ts';
import type { Journal } from '../../src/spec/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { agentStep, chain, parallel, step } from '../../src/workflow/index.ts';

const [mode, databasePath, effects, sessionId, crashAfter] = process.argv.slice(2);
if (mode === undefined || databasePath === undefined || effects === undefined || sessionId === undefined || crashAfter === undefined) {
  throw new Error('usage: workflow-crash-child <start|resume> <db> <effects> <sessionId> <crashAfterAppends|-1>');
}
const effectsDirectory: string = effects;
mkdirSync(join(effectsDirectory, 'applied'), { recursive: true });

function effect(name: string, key: string): void {
  appendFileSync(join(effectsDirectory, 'attempts.log'), `${name} ${key}\n`);
  try {
    closeSync(openSync(join(effectsDirectory, 'applied', key.replace(/[^A-Za-z0-9_.-]/g, '_')), 'wx'));
    appendFileSync(join(effectsDirectory, 'effects.log'), `${name}\n`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

const store = createSqliteStore({ path: databasePath });
const inner = store.journal;
let appends = 0;
const journal: Journal = {
  read: (id, from) => inner.read(id, from),
  lastSeq: (id) => inner.lastSeq(id),
  listSessions: (options) => inner.listSessions(options),
  close: () => inner.close(),
  async append(id, events, expectedSeq) {
    const last = await inner.append(id, events, expectedSeq);
    appends += 1;
    process.stdout.write(`BOUNDARY ${appends} ${id} ${last}\n`);
    if (Number(crashAfter) > 0 && appends >= Number(crashAfter)) process.kill(process.pid, 'SIGKILL');
    return last;
  },
};

const send = defineTool({
  name: 'send',
  description: 'Sends the shipping notice.',
  input: z.object({ order: z.string() }),
  risk: 'write',
  execute: ({ order }, context) => {
    effect('send', context.idempotencyKey);
    return `sent ${order}`;
  },
});
const usage = { input_tokens: 100, output_tokens: 50 };
const notifier = defineAgent({ name: 'notifier', instructions: 'Send the notice.', tools: [send], model: 'notifier', streaming: false });
const model = createScriptedModel([
  { content: [{ type: 'tool_use', name: 'send', input: { order: 'o-1' } }], stop_reason: 'tool_use', usage },
  { content: [{ type: 'text', text: 'notice sent' }], stop_reason: 'end_turn', usage },
]);

const effectStep = (name: string) =>
  step(name, (order: string, context) => {
    effect(name, context.idempotencyKey);
    return `${name} ${order}`;
  });
export const workflow = chain<string>('fulfil')
  .then(effectStep('reserve'))
  .then(parallel('ship', { branches: { label: effectStep('label'), notify: agentStep(notifier, { task: (text: string) => `Notify: ${text}` }) } }))
  .then(step('close', (shipped: { results: { label?: string; notify?: string } }, context) => {
    effect('close', context.idempotencyKey);
    return `${shipped.results.label} / ${shipped.results.notify}`;
  }));

const keel = createKeel({ journal, blobs: store.blobs, leases: store.leases, idempotency: createSqliteIdempotencyStore(store.database), models: { notifier: model }, modelRetries: 0, env: {} });
const run = mode === 'start' ? keel.runWorkflow(workflow, 'o-1', { sessionId }) : keel.resumeWorkflow(workflow, sessionId);
const result = await run.result;
process.stdout.write(`RESULT ${JSON.stringify({ status: result.status, output: result.output, error: result.error })}\n`);
await keel.close();
await store.close();
