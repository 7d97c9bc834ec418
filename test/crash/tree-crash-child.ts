// Runs (start or resume) the three-level tree of tree-crash-agents.ts and, when told, kills itself with SIGKILL right
// after its Nth journal append, counted over every session of the tree. Prints `BOUNDARY <n> <session> <seq>` per append.
import { createKeel } from '../../src/runtime/index.ts';
import { createSqliteIdempotencyStore, createSqliteStore } from '../../src/store/index.ts';
import type { Journal } from '../../src/spec/index.ts';
import { createTreeAgents, createTreeModel } from './tree-crash-agents.ts';

const [mode, databasePath, effectsDirectory, sessionId, crashAfter] = process.argv.slice(2);
if (mode === undefined || databasePath === undefined || effectsDirectory === undefined || sessionId === undefined || crashAfter === undefined) {
  throw new Error('usage: tree-crash-child <start|resume> <db> <effects> <rootSessionId> <crashAfterAppends|-1>');
}
const crashAfterAppends = Number(crashAfter);
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
    if (crashAfterAppends > 0 && appends >= crashAfterAppends) process.kill(process.pid, 'SIGKILL');
    return last;
  },
};
const model = createTreeModel();
const keel = createKeel({ journal, blobs: store.blobs, leases: store.leases, idempotency: createSqliteIdempotencyStore(store.database), models: { tree: model }, modelRetries: 0, env: {} });
const { root } = createTreeAgents(effectsDirectory);
const session = mode === 'start' ? keel.run(root, { task: 'Bill every region.', sessionId }) : await keel.resume(root, sessionId);
const result = await session.result;
process.stdout.write(`RESULT ${JSON.stringify({ status: result.status, output: result.output, error: result.error })}\n`);
await keel.close();
await store.close();
