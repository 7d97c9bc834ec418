// Reproduction of a finding of the fault suite (not a test; see BENCHMARKS-faults.md, "Findings"): with the
// production composition (createKeel({ database })), the idempotency stage records a tool's outcome in SQLite
// right after the tool returns. When that write fails (here: another process holds the write lock past the 5 s busy
// timeout), the pipeline's storage-failure is journaled as the call's outcome: a `tool-error` for a charge that was
// applied. The model is told the charge failed, and a resume never re-runs the call, because it has an outcome.
//
//   node --import tsx test/suites/repro-busy-outcome.ts     exits 1 while the behaviour reproduces (takes ~7 s)
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { defineAgent } from '../../src/loop/index.ts';
import { createKeel } from '../../src/runtime/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { openFarEnd, readFarEnd } from './far-end.ts';
import { startProvider } from './fault-kit.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-busy-outcome-'));
const path = join(scratch, 'keel.db');
const farEnd = openFarEnd(join(scratch, 'far-end'));
const setup = await startProvider('anthropic', [{ kind: 'charge', customers: ['ada'] }, { kind: 'final', text: 'Done.' }], { byTurn: true });
const keel = createKeel({ database: path, model: setup.model, modelRetries: 2 });

// Another process that takes the write lock when told to and holds it 6.5 s: past the busy timeout (5 s) of the
// first write that waits for it, not of the second.
const locker = spawn(
  process.execPath,
  ['-e', `const D=require('better-sqlite3');const d=new D(${JSON.stringify(path)});process.stdin.once('data',()=>{d.exec('BEGIN IMMEDIATE');console.log('locked');setTimeout(()=>{d.exec('ROLLBACK');d.close();process.exit(0);},6500);});`],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const lines = createInterface({ input: locker.stdout });
const locked = new Promise<void>((resolve) => lines.once('line', () => resolve()));

const charge = defineTool({
  name: 'charge',
  description: 'Charges a customer.',
  input: z.object({ customer: z.string(), cents: z.number().int() }),
  execute: async ({ customer, cents }, context) => {
    farEnd.apply(context.idempotencyKey, { sessionId: context.sessionId, customer, cents });
    locker.stdin?.write('go\n');
    await locked;
    return { charged: customer, cents };
  },
});
const agent = defineAgent({ name: 'busy-biller', instructions: 'Charge.', tools: [charge] });
const run = keel.run(agent, 'Charge ada.');
let outcome = '';
try {
  const result = await run.result;
  outcome = `${result.status}: ${result.output ?? result.error?.code}`;
} catch (error) {
  outcome = `rejected: ${(error as { code?: string }).code}`;
}
const events = await keel.events(run.sessionId);
const chargeOutcome = events.find((event) => (event.type === 'tool-result' || event.type === 'tool-error') && event.tool === 'charge');
const applied = [...readFarEnd(join(scratch, 'far-end')).applied.values()].map((record) => record.customer);
console.log(`run: ${outcome}`);
console.log(`journaled outcome of the charge: ${chargeOutcome?.type === 'tool-error' ? `tool-error ${chargeOutcome.error.code}: ${chargeOutcome.error.message}` : (chargeOutcome?.type ?? 'none')}`);
console.log(`applied at the far end: ${JSON.stringify(applied)}`);
for (const event of events) console.log(`  ${event.seq} ${event.type}${event.type === "session-end" ? ` ${event.status} ${JSON.stringify(event.output)}` : ""}${event.type === "model-error" ? ` ${event.error.code}: ${event.error.message}` : ""}`);
const reproduced = chargeOutcome?.type === 'tool-error' && applied.includes('ada');
console.log(reproduced ? 'REPRODUCED: the journal says the charge failed, but it was applied.' : 'Not reproduced.');
await keel.close();
await setup.server.close();
rmSync(scratch, { recursive: true, force: true });
process.exitCode = reproduced ? 1 : 0;
