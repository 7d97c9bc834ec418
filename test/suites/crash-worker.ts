// The process the crash suite kills. It opens one SQLite journal, resumes every open session, starts the sessions
// not started yet, and runs them `--concurrency` at a time. It reports on stdout, synchronously (a pipe on Linux),
// every journal append it got an acknowledgement for and every execution of a side-effecting call, so that the
// supervisor knows exactly what this incarnation was told before it died. With `--kill-after-appends K` it kills
// itself with SIGKILL right after its K-th acknowledged append.
//
//   node --import tsx test/suites/crash-worker.ts --db F --effects D --model M --sessions N [--concurrency C] [--kill-after-appends K]
import { parseArgs } from 'node:util';
import { createKeel } from '../../src/runtime/index.ts';
import { loadScriptedModel } from '../../src/model/index.ts';
import type { Journal, Model, ModelStreamPart } from '../../src/spec/index.ts';
import { crashSessionId, crashTask } from './crash-protocol.ts';
import { createBiller, openFarEnd } from './far-end.ts';

const { values } = parseArgs({
  options: {
    db: { type: 'string' },
    effects: { type: 'string' },
    model: { type: 'string' },
    sessions: { type: 'string' },
    concurrency: { type: 'string', default: '20' },
    'kill-after-appends': { type: 'string', default: '0' },
  },
});
if (values.db === undefined || values.effects === undefined || values.model === undefined || values.sessions === undefined) {
  throw new Error('usage: crash-worker --db <file> --effects <dir> --model <script.json> --sessions N [--concurrency C] [--kill-after-appends K]');
}
const sessionCount = Number(values.sessions);
const concurrency = Number(values.concurrency);
const killAfter = Number(values['kill-after-appends']);

const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

let appends = 0;
/** Reports every acknowledged append, and dies right after the K-th when asked to. */
function instrument(journal: Journal): void {
  const append = journal.append.bind(journal);
  // The runtime calls the journal through this very object, so replacing its method instruments every append of
  // every session while the composition stays createKeel's own (SQLite journal, blobs, idempotency store, audit log).
  (journal as { append: Journal['append'] }).append = async (id, events, expectedSeq) => {
    const last = await append(id, events, expectedSeq);
    appends += 1;
    const summary = events.map((event) => {
      if (event.type === 'tool-request') return [event.seq, event.type, event.callId, event.idempotencyKey];
      if (event.type === 'tool-result' || event.type === 'tool-error') return [event.seq, event.type, event.callId];
      return [event.seq, event.type];
    });
    say(`A ${JSON.stringify({ s: id, e: summary })}`);
    if (killAfter > 0 && appends >= killAfter) process.kill(process.pid, 'SIGKILL');
    return last;
  };
}

/** The scripted model, with a short random latency so that crashes also land while calls are in flight. */
function withLatency(model: Model): Model {
  const wait = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 4)));
  return {
    provider: model.provider,
    modelId: model.modelId,
    async generate(request, signal) {
      await wait();
      return model.generate(request, signal);
    },
    async *stream(request, signal): AsyncGenerator<ModelStreamPart> {
      await wait();
      yield* model.stream(request, signal);
    },
  };
}

const keel = createKeel({ database: values.db, model: withLatency(loadScriptedModel(values.model)), modelRetries: 0 });
instrument(keel.journal);
const farEnd = openFarEnd(values.effects);
const agent = createBiller(farEnd, { jitterMs: 4, onAttempt: (key, sessionId) => say(`T ${key} ${sessionId}`) });

const known = await keel.sessions();
const open = await keel.sessions({ status: 'open' });
const started = new Set(known.map((summary) => summary.sessionId));
type Job = { readonly kind: 'resume' | 'start'; readonly sessionId: string };
const jobs: Job[] = open.map((summary) => ({ kind: 'resume', sessionId: summary.sessionId }));
for (let index = 1; index <= sessionCount; index += 1) {
  const sessionId = crashSessionId(index);
  if (!started.has(sessionId)) jobs.push({ kind: 'start', sessionId });
}
say(`READY ${JSON.stringify({ known: known.length, resume: open.length, start: jobs.length - open.length })}`);

let next = 0;
let completed = 0;
async function lane(): Promise<void> {
  for (;;) {
    const job = jobs[next];
    next += 1;
    if (job === undefined) return;
    const run = job.kind === 'start' ? keel.run(agent, { task: crashTask, sessionId: job.sessionId }) : await keel.resume(agent, job.sessionId);
    const result = await run.result;
    if (result.status === 'completed') completed += 1;
    say(`END ${JSON.stringify({ s: job.sessionId, kind: job.kind, status: result.status, error: result.error?.code ?? null })}`);
  }
}

try {
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, () => lane()));
  await keel.close();
  say(`DONE ${JSON.stringify({ completed, appends })}`);
} catch (error) {
  process.stderr.write(`crash-worker failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
}
