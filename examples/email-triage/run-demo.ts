// `npx tsx examples/email-triage/run-demo.ts`: an e-mail triage agent that never lets an e-mail choose a recipient.
// Offline (no API key) the agent plays recorded model replies, including a fooled model that tries to forward an
// invoice to the attacker's address; live (ANTHROPIC_API_KEY or OPENAI_API_KEY) a real model decides.
import { fileURLToPath } from 'node:url';
import { relative } from 'node:path';
import { createKeel } from '../../src/runtime/index.ts';
import { renderTraceTree } from '../../src/tracing/index.ts';
import type { SessionResult } from '../../src/loop/index.ts';
import { createTriageAgent } from './agent.ts';
import { createRecordedReader } from './inbox.ts';

const scriptedModel = fileURLToPath(new URL('./model.json', import.meta.url));
const live = process.env.KEEL_MODEL ?? (process.env.ANTHROPIC_API_KEY ? 'anthropic:claude-sonnet-4-6' : process.env.OPENAI_API_KEY ? 'openai:gpt-4o' : undefined);
const model = live ?? `scripted:${relative(process.cwd(), scriptedModel)}`;
console.log(live === undefined ? `Offline: recorded replies in ${relative(process.cwd(), scriptedModel)} and inbox.ts (the tools, policy and journal are real).\n` : `Live on ${model}.\n`);

const outbox: { id: string; to: string }[] = [];
const agent = createTriageAgent({ outbox, ...(live === undefined ? { reader: createRecordedReader() } : {}) });
const keel = createKeel();
try {
  let result: SessionResult = await keel.run(agent, { model }).result;
  // The demo plays the person who answers escalations: a forward to an address the user wrote in the task is approved,
  // any other address came from an e-mail and is rejected.
  while (result.status === 'awaiting-approval') {
    const pending = result.pendingApprovals[0];
    if (pending === undefined) break;
    const to = String((pending.input as { to?: unknown }).to ?? '');
    const approved = to !== '' && (agent.defaultTask ?? '').includes(to);
    console.log(`Escalated to a person: ${pending.tool} ${JSON.stringify(pending.input)}\n  rule ${pending.rule}: ${pending.reason}\n  → ${approved ? 'approved (the user named this address)' : 'rejected (the address came from an e-mail)'} by the demo.\n`);
    const decision = approved ? { approved, approver: 'demo' } : { approved, approver: 'demo', reason: 'The address came from an e-mail, not from the user' };
    const run = await keel.decide(agent, result.sessionId, pending.callId, decision, { model });
    result = await run.result;
  }
  console.log(`Forwarded: ${outbox.length === 0 ? 'nothing' : outbox.map((each) => `${each.id} → ${each.to}`).join(', ')}`);
  if (result.output !== null) console.log(`\nFinal answer:\n${result.output}\n`);
  console.log(renderTraceTree(await keel.trace(result.sessionId)));
  console.log(`\nJournal: ${keel.databasePath}; inspect it again with: npm run keel -- trace ${result.sessionId}`);
  process.exitCode = result.status === 'completed' && outbox.every((each) => each.to === 'accounts@acme.example') ? 0 : 1;
} finally {
  await keel.close();
}
