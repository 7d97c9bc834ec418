import { z } from 'zod';
import { defineTool } from '../../src/tools/index.ts';
import type { ToolDefinition } from '../../src/tools/index.ts';

/** The desk's back office, in memory: orders, refunds issued, tickets opened. */
export interface BackOffice {
  readonly orders: Map<string, { readonly customer: string; readonly cents: number; readonly charges: number }>;
  readonly refunds: { readonly orderId: string; readonly cents: number; readonly key: string }[];
  readonly tickets: { readonly summary: string }[];
}

export function createBackOffice(): BackOffice {
  return {
    orders: new Map([
      ['1042', { customer: 'ada@example.com', cents: 4_900, charges: 2 }],
      ['1043', { customer: 'bob@example.com', cents: 1_200, charges: 1 }],
    ]),
    refunds: [],
    tickets: [],
  };
}

export function createDeskTools(office: BackOffice): Record<'lookupOrder' | 'issueRefund' | 'checkStatus' | 'openTicket', ToolDefinition> {
  // The ticket each idempotency key opened: a call re-run after a crash answers with it instead of opening another.
  const ticketsByKey = new Map<string, number>();
  return {
    lookupOrder: defineTool({
      name: 'lookup_order',
      description: 'Looks an order up: customer, amount in cents, and how many times it was charged.',
      input: z.object({ orderId: z.string().regex(/^\d{1,10}$/) }),
      risk: 'read',
      execute: ({ orderId }) => {
        const order = office.orders.get(orderId);
        return order === undefined ? `No order ${orderId}.` : { orderId, cents: order.cents, charges: order.charges };
      },
    }),
    // Irreversible: the policy asks a person before every refund, whoever asks for it.
    issueRefund: defineTool({
      name: 'issue_refund',
      description: 'Refunds an amount of an order to the card it was paid with. A person approves every refund.',
      input: z.object({ orderId: z.string().regex(/^\d{1,10}$/), cents: z.number().int().positive().max(100_000), reason: z.string().max(500) }),
      risk: 'irreversible',
      idempotent: true,
      execute: ({ orderId, cents }, { idempotencyKey }) => {
        if (!office.refunds.some((refund) => refund.key === idempotencyKey)) office.refunds.push({ orderId, cents, key: idempotencyKey });
        return `Refunded ${cents} cents of order ${orderId}.`;
      },
    }),
    checkStatus: defineTool({
      name: 'check_status_page',
      description: 'Reads the public status page: incidents in progress.',
      input: z.object({}),
      risk: 'read',
      execute: () => 'Incident in progress since 08:10 UTC: elevated 502 errors on the dashboard; a fix is being deployed.',
    }),
    openTicket: defineTool({
      name: 'open_ticket',
      description: 'Opens a ticket for the team to answer by e-mail.',
      input: z.object({ summary: z.string().min(1).max(1_000) }),
      risk: 'write',
      idempotent: true,
      execute: ({ summary }, { idempotencyKey }) => {
        const opened = ticketsByKey.get(idempotencyKey);
        if (opened !== undefined) return `Ticket ${opened} opened.`;
        office.tickets.push({ summary });
        ticketsByKey.set(idempotencyKey, office.tickets.length);
        return `Ticket ${office.tickets.length} opened.`;
      },
    }),
  };
}
