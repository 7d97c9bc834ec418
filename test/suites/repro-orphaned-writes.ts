// Reproduction of a finding of the fault suite (not a test; see BENCHMARKS-faults.md, "Findings"):
// when a session's journal append fails while parallel tool calls are in flight, `run.result` rejects at once, but
// the other calls keep running and later append their outcomes through the dead run's SessionWriter. A resume
// started right after the rejection (as a caller would, once space is freed) then races with that orphaned writer
// and fails with `journal-conflict`; a second resume completes. Nothing is lost or duplicated (optimistic
// concurrency refuses the stale writer), but the dead run both executed a tool and wrote to the journal after it
// had reported failure. Mechanism: src/loop/tool-steps.ts runTools awaits Promise.all of the calls, which rejects on
// the first failed append while the other calls run on; SessionWriter.append keeps accepting writes after one failed.
//
//   node --import tsx test/suites/repro-orphaned-writes.ts     exits 1 while the behaviour reproduces, 0 once fixed
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { toKeelError } from '../../src/errors/index.ts';
import { createKeel } from '../../src/runtime/index.ts';
import { createSqliteStore, toStorageFailure } from '../../src/store/index.ts';
import type { SessionEvent } from '../../src/spec/index.ts';
import { createToolPipeline, defineTool } from '../../src/tools/index.ts';
import { createBiller, openFarEnd } from './far-end.ts';
import { EmittedEvents, startProvider } from './fault-kit.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-orphaned-writes-'));
const store = createSqliteStore({ path: join(scratch, 'keel.db') });
const pause = (milliseconds: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, milliseconds));
let slowExecutions = 0;
let quickExecutions = 0;
// Two read-only lookups in one turn: `slow` takes 300 ms the first time and 800 ms after; `quick` 10 ms, then 1 s.
const slow = defineTool({ name: 'slow_lookup', description: 'Slow.', input: z.object({ id: z.string() }), risk: 'read', execute: async () => { slowExecutions += 1; await pause(slowExecutions === 1 ? 300 : 800); return 'slow result'; } });
const quick = defineTool({ name: 'quick_lookup', description: 'Quick, then slow.', input: z.object({ id: z.string() }), risk: 'read', execute: async () => { quickExecutions += 1; await pause(quickExecutions === 1 ? 10 : 1000); return 'quick result'; } });
const agent = createBiller(openFarEnd(join(scratch, 'far-end')), { extraTools: [slow, quick] });
const setup = await startProvider('anthropic', [{ kind: 'charge', customers: [], extra: [{ name: 'slow_lookup', input: { id: 'a' } }, { name: 'quick_lookup', input: { id: 'b' } }] }, { kind: 'final', text: 'Done.' }], { byTurn: true });
// The disk is found full by the append of quick_lookup's tool-result, and stays full until freed.
let full = false;
const journal = {
  ...store.journal,
  async append(id: string, events: readonly SessionEvent[], expectedSeq: number): Promise<number> {
    if (events.some((event) => event.type === 'tool-result' && event.tool === 'quick_lookup')) full ||= quickExecutions === 1;
    if (full) throw toStorageFailure(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }), { path: join(scratch, 'keel.db'), action: `appending to session ${id}` });
    return store.journal.append(id, events, expectedSeq);
  },
  free(): void {
    full = false;
  },
};
// A bare pipeline isolates the loop's behaviour: with the default one, the idempotency stage hands the resumed run
// quick_lookup's recorded outcome at once, its append comes first and the orphaned append is the one refused (the
// orphan still runs and still tries to write; the race just ends the other way).
const keel = createKeel({ journal, blobs: store.blobs, model: setup.model, modelRetries: 0, toolPipeline: createToolPipeline() });
const emitted = new EmittedEvents();
const run = keel.run(agent, { task: 'Look both up.', onUpdate: emitted.onUpdate });
let reproduced = false;
try {
  await run.result;
  console.log('The first run did not fail; the set-up no longer reaches the fault.');
} catch (error) {
  console.log(`1. run.result rejected: ${toKeelError(error).code} (${slowExecutions} slow_lookup execution(s) still in flight)`);
  journal.free();
  const resumedEvents = new EmittedEvents();
  try {
    const resumed = await (await keel.resume(agent, run.sessionId, { onUpdate: resumedEvents.onUpdate })).result;
    console.log(`2. resume right after: ${resumed.status}`);
  } catch (resumeError) {
    reproduced = toKeelError(resumeError).code === 'journal-conflict';
    console.log(`2. resume right after: rejected with ${toKeelError(resumeError).code}: ${toKeelError(resumeError).message}`);
  }
  await pause(1500);
  const events = await keel.events(run.sessionId);
  const orphan = events.find((event) => event.type === 'tool-result' && event.tool === 'slow_lookup' && !resumedEvents.events.some((seen) => seen.seq === event.seq));
  console.log(`3. journal: ${events.map((event) => `${event.seq}:${event.type}`).join(' ')}`);
  if (orphan !== undefined) console.log(`   seq ${orphan.seq} (slow_lookup's tool-result) was written by the run that had already rejected.`);
  const again = await (await keel.resume(agent, run.sessionId)).result;
  console.log(`4. second resume: ${again.status}; slow_lookup executed ${slowExecutions} times`);
}
await setup.server.close();
await store.close();
rmSync(scratch, { recursive: true, force: true });
console.log(reproduced ? 'REPRODUCED: the rejected run kept writing; the first resume failed with journal-conflict.' : 'Not reproduced.');
process.exitCode = reproduced ? 1 : 0;
