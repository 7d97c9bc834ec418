// `npx tsx examples/support/run-demo.ts`: a routed support desk. The desk agent hands each ticket to billing,
// technical or fallback; billing hands refunds to the refunds agent, whose refund waits for a person's approval (the
// demo plays the approver). Every agent runs as a child session of the desk's. Offline (no API key) the agents play
// recorded replies; live (ANTHROPIC_API_KEY or OPENAI_API_KEY, or KEEL_MODEL) a real model routes and answers.
import { createKeel } from '../../src/runtime/index.ts';
import { createSupportDesk } from './agents.ts';
import { createBackOffice } from './desk-tools.ts';
import { createRecordedDeskModel, tickets } from './recorded-model.ts';
import { routeOf, serveTicket } from './serve-ticket.ts';

const live = process.env.KEEL_MODEL ?? (process.env.ANTHROPIC_API_KEY ? 'anthropic:claude-sonnet-4-6' : process.env.OPENAI_API_KEY ? 'openai:gpt-4o' : undefined);
const keel = createKeel(live === undefined ? { models: { 'recorded-desk': createRecordedDeskModel() } } : {});
const office = createBackOffice();
const agents = createSupportDesk(office, live ?? 'recorded-desk');
console.log(live === undefined ? 'Offline: recorded model replies (the routing, child sessions, approval and journal are real).\n' : `Live on ${live}.\n`);

try {
  let failures = 0;
  for (const ticket of Object.values(tickets)) {
    const result = await serveTicket(keel, agents, ticket, (pending) => {
      console.log(`  Approval asked by ${pending.agent ?? 'desk'}: ${pending.tool} ${JSON.stringify(pending.input)} → approved by the demo`);
      return { approved: true };
    });
    const trail = await routeOf(keel, result.sessionId);
    console.log(`Ticket: ${ticket}\n  routed to: ${trail.join(' → ') || 'nobody'}\n  ${result.status}: ${result.output ?? result.error?.message ?? ''}\n`);
    if (result.status !== 'completed') failures += 1;
  }
  console.log(`Refunds issued: ${office.refunds.map((refund) => `order ${refund.orderId}, ${refund.cents} cents`).join('; ') || 'none'}; tickets opened: ${office.tickets.length}`);
  console.log(`The trees: npm run keel -- sessions --tree${keel.databasePath === null ? '' : ` --db ${keel.databasePath}`}`);
  process.exitCode = failures === 0 ? 0 : 1;
} finally {
  await keel.close();
}
