import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { z } from 'zod';
import { createKeel } from '../../../src/runtime/index.ts';
import { createSqliteStore } from '../../../src/store/index.ts';
import { defineTool } from '../../../src/tools/index.ts';
import { createBiller, openFarEnd } from '../far-end.ts';
import { EmittedEvents, fillingJournal, startProvider } from '../fault-kit.ts';

const scratch = mkdtempSync(join(tmpdir(), 'zombie-'));
const store = createSqliteStore({ path: join(scratch, 'k.db') });
let slowRuns = 0;
const slow = defineTool({ name: 'slow_lookup', description: 'slow', input: z.object({ id: z.string() }), risk: 'read', execute: async () => { slowRuns += 1; await new Promise((r) => setTimeout(r, 300)); return 'looked up'; } });
let quickRuns = 0;
const quick = defineTool({ name: 'quick_lookup', description: 'quick then slow', input: z.object({ id: z.string() }), risk: 'read', execute: async () => { quickRuns += 1; await new Promise((r) => setTimeout(r, quickRuns === 1 ? 10 : 500)); return 'quick'; } });
const setup = await startProvider('anthropic', [{ kind: 'charge', customers: [], extra: [{ name: 'slow_lookup', input: { id: 'a' } }, { name: 'quick_lookup', input: { id: 'b' } }] }, { kind: 'final', text: 'done' }], { byTurn: true });
const agent = createBiller(openFarEnd(join(scratch, 'fx')), { extraTools: [slow, quick] });
// appends: start, turn-start, ctx+req, resp, requests, decisions = 6; the 7th fails
const journal = fillingJournal(store.journal, 6, 'k.db');
const keel = createKeel({ journal, blobs: store.blobs, model: setup.model, modelRetries: 0 });
const emitted = new EmittedEvents();
const run = keel.run(agent, 'go', { onUpdate: emitted.onUpdate });
try { await run.result; console.log('no rejection?'); } catch (e) { console.log('first run rejected:', (e as Error).message.slice(0, 80)); }
journal.free();
const resumed = await keel.resume(agent, run.sessionId);
const again = async () => { try { const r = await (await keel.resume(agent, run.sessionId)).result; console.log('second resume:', r.status); } catch (e) { console.log('second resume rejected', (e as { code?: string }).code); } };
try {
  const r = await resumed.result;
  console.log('resume:', r.status, r.error?.code ?? '');
} catch (e) { console.log('resume rejected:', (e as { code?: string }).code, (e as Error).message.slice(0, 200)); }
await new Promise((r) => setTimeout(r, 700));
await again();
const events = await keel.events(run.sessionId);
console.log(events.map((e) => `${e.seq}:${e.type}${'callId' in e ? `(${e.callId})` : ''}`).join(' '));
console.log('slow tool executions:', slowRuns);
await setup.server.close();
await store.close();
