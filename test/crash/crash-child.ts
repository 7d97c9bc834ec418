// Runs one session (start or resume) and, when told, kills itself with SIGKILL right after the journal append that wrote a given sequence number.
import { createKeel } from '../../src/runtime/index.ts';
import { createSqliteIdempotencyStore, createSqliteStore } from '../../src/store/index.ts';
import type { Journal, Model } from '../../src/spec/index.ts';
import { loadScriptedModel } from '../../src/model/index.ts';
import { createCrashAgent } from './crash-agent.ts';

const [mode, databasePath, effectsDirectory, sessionId, crashAfter, modelFile, crashPoint = 'after-append'] = process.argv.slice(2);
if (mode === undefined || databasePath === undefined || effectsDirectory === undefined || sessionId === undefined || crashAfter === undefined || modelFile === undefined) {
  throw new Error('usage: crash-child <start|resume> <db> <effects> <sessionId> <crashAfterSeq|-1> <model.json>');
}
const crashAfterSeq = Number(crashAfter);
const store = createSqliteStore({ path: databasePath });
const inner = store.journal;
const journal: Journal = {
  read: (id, from) => inner.read(id, from),
  lastSeq: (id) => inner.lastSeq(id),
  listSessions: (options) => inner.listSessions(options),
  close: () => inner.close(),
  async append(id, events, expectedSeq) {
    // The window the idempotency store closes: the tool ran and its outcome was recorded, the journal never heard.
    if (crashPoint === 'before-tool-result' && crashAfterSeq > 0 && expectedSeq + 1 >= crashAfterSeq && events.some((event) => event.type === 'tool-result')) {
      process.kill(process.pid, 'SIGKILL');
    }
    const last = await inner.append(id, events, expectedSeq);
    process.stdout.write(`BOUNDARY ${last}\n`);
    if (crashPoint === 'after-append' && crashAfterSeq > 0 && last >= crashAfterSeq) process.kill(process.pid, 'SIGKILL');
    return last;
  },
};
// 'in-model-call': killed when the model is called for the crashAfter-th time, while the turn's start, context and
// request are held by the session writer for the append of its tool decisions (not in the journal yet).
const scripted = loadScriptedModel(modelFile);
let modelCalls = 0;
const model: Model = new Proxy(scripted, {
  get(target, property, receiver) {
    const value = Reflect.get(target, property, receiver) as unknown;
    if ((property !== 'generate' && property !== 'stream') || typeof value !== 'function') return value;
    return (...args: unknown[]): unknown => {
      modelCalls += 1;
      if (crashPoint === 'in-model-call' && modelCalls === crashAfterSeq) process.kill(process.pid, 'SIGKILL');
      return (value as (...parameters: unknown[]) => unknown).apply(target, args);
    };
  },
});
const keel = createKeel({ journal, blobs: store.blobs, idempotency: createSqliteIdempotencyStore(store.database), model, modelRetries: 0 });
const agent = createCrashAgent(effectsDirectory);
const session = mode === 'start' ? keel.run(agent, { task: 'Charge ada, bob and cy.', sessionId }) : await keel.resume(agent, sessionId);
const result = await session.result;
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
await store.close();
