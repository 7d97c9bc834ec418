import { defineAgent, handoff } from '../../src/loop/index.ts';
import type { AgentDefinition } from '../../src/loop/index.ts';
import { createDeskTools } from './desk-tools.ts';
import type { BackOffice } from './desk-tools.ts';

/** Which model each agent runs on: a registered name offline, a provider spec live. */
export type DeskModel = string;

export interface SupportDesk {
  readonly desk: AgentDefinition;
  readonly billing: AgentDefinition;
  readonly technical: AgentDefinition;
  readonly fallback: AgentDefinition;
  readonly refunds: AgentDefinition;
}

/**
 * A routed support desk. The desk agent only routes: it hands the conversation to billing, technical or, for
 * anything else, the fallback agent. Billing looks orders up and hands refunds to the refunds agent, whose
 * `issue_refund` always waits for a person's approval: the tree is suspended until someone decides, whoever asked.
 */
export function createSupportDesk(office: BackOffice, model: DeskModel): SupportDesk {
  const tools = createDeskTools(office);
  const refunds = defineAgent({
    name: 'refunds',
    instructions: 'You issue refunds. Check the order with lookup_order, refund only what was charged in error, then tell the customer what was refunded.',
    tools: [tools.lookupOrder, tools.issueRefund],
    model,
    limits: { maxTurns: 5 },
  });
  const billing = defineAgent({
    name: 'billing',
    instructions: 'You answer billing questions. Look orders up with lookup_order. When the customer should get money back, hand the conversation to refunds.',
    tools: [tools.lookupOrder, handoff(refunds, { description: 'Hand the conversation to the refunds agent when money should be returned; a person approves every refund.' })],
    model,
    limits: { maxTurns: 5 },
  });
  const technical = defineAgent({
    name: 'technical',
    instructions: 'You answer technical problems. Check the status page first; explain what is known and what the customer can do.',
    tools: [tools.checkStatus],
    model,
    limits: { maxTurns: 4 },
  });
  const fallback = defineAgent({
    name: 'fallback',
    instructions: 'You take every request billing and technical support do not cover: open a ticket for the team and tell the customer they will hear back by e-mail.',
    tools: [tools.openTicket],
    model,
    limits: { maxTurns: 3 },
  });
  const desk = defineAgent({
    name: 'desk',
    instructions: 'You route customer messages. Do not answer yourself: hand the conversation to billing (charges, invoices, refunds), technical (errors, outages, how the product works) or fallback (anything else).',
    tools: [handoff(billing), handoff(technical), handoff(fallback)],
    model,
    limits: { maxTurns: 3 },
  });
  return { desk, billing, technical, fallback, refunds };
}
