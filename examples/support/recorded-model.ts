import { createTaskScriptedModel } from '../../src/model/task-scripted-model.ts';
import type { ScriptedResponseInput } from '../../src/model/index.ts';
import type { Model } from '../../src/spec/model.ts';

export const tickets = {
  refund: 'I was charged twice for order 1042. Please refund the duplicate charge.',
  outage: 'The dashboard shows error 502 since this morning. What is going on?',
  other: 'Do you sponsor local meetups?',
} as const;

const usage = { input_tokens: 700, output_tokens: 80 };
const call = (name: string, input: Record<string, unknown>, id: string): ScriptedResponseInput => ({ content: [{ type: 'tool_use', id, name, input }], stop_reason: 'tool_use', usage });
const say = (text: string): ScriptedResponseInput => ({ content: [{ type: 'text', text }], stop_reason: 'end_turn', usage });

/**
 * Recorded replies of every agent of the desk, chosen by each session's task: the desk sees the ticket; a handoff
 * target's task is the conversation handed over, which ends with the reason its handoff gave.
 */
export function createRecordedDeskModel(): Model {
  return createTaskScriptedModel([
    // The targets first: their tasks quote the customer's message too.
    { whenTaskIncludes: 'Handed over because: Duplicate charge to refund.', responses: [call('lookup_order', { orderId: '1042' }, 'look_1'), call('issue_refund', { orderId: '1042', cents: 4_900, reason: 'Duplicate charge.' }, 'refund_1'), say('I refunded the duplicate charge of $49.00 for order 1042; it reaches your card in 3-5 days.')] },
    { whenTaskIncludes: 'Handed over because: Billing question about a double charge.', responses: [call('lookup_order', { orderId: '1042' }, 'look_1'), call('transfer_to_refunds', { reason: 'Duplicate charge to refund.' }, 'refunds_1')] },
    { whenTaskIncludes: 'Handed over because: Dashboard errors.', responses: [call('check_status_page', {}, 'status_1'), say('We have an incident since 08:10 UTC causing 502 errors on the dashboard; a fix is being deployed. Please retry in a few minutes.')] },
    { whenTaskIncludes: 'Handed over because: Not billing or technical.', responses: [call('open_ticket', { summary: 'Customer asks whether we sponsor local meetups.' }, 'ticket_1'), say('I opened a ticket for our events team; you will hear back by e-mail.')] },
    { whenTaskIncludes: tickets.refund, responses: [call('transfer_to_billing', { reason: 'Billing question about a double charge.' }, 'route_1')] },
    { whenTaskIncludes: tickets.outage, responses: [call('transfer_to_technical', { reason: 'Dashboard errors.' }, 'route_1')] },
    { whenTaskIncludes: tickets.other, responses: [call('transfer_to_fallback', { reason: 'Not billing or technical.' }, 'route_1')] },
  ]);
}
