import { z } from 'zod';
import { defineAgent } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { applyEffect, holdWhileMarked } from './effects.ts';

/** A biller whose `charge` applies its effect, then holds while the test marks the customer (to crash mid-call). */
export function createBiller(effects: string) {
  const charge = defineTool({
    name: 'charge',
    description: 'Charges a customer.',
    input: z.object({ customer: z.string(), cents: z.number().int() }),
    risk: 'write',
    execute: async ({ customer, cents }, context) => {
      applyEffect(effects, context.idempotencyKey, `charge ${customer} ${cents}`);
      await holdWhileMarked(effects, customer);
      return { charged: customer, cents };
    },
  });
  return defineAgent({ name: 'biller', instructions: 'Charge the customers you are asked to charge.', tools: [charge], model: 'biller-script' });
}

/** A refunder: refunds are irreversible, so each waits for a person's approval. */
export function createRefunder(effects: string, options: { readonly name: string; readonly model: string; readonly deadlineMs?: number }) {
  const refund = defineTool({
    name: 'refund',
    description: 'Refunds an order.',
    input: z.object({ order: z.string(), cents: z.number().int() }),
    risk: 'irreversible',
    execute: async ({ order, cents }, context) => {
      applyEffect(effects, context.idempotencyKey, `refund ${order} ${cents}`);
      return { refunded: order, cents };
    },
  });
  return defineAgent({
    name: options.name,
    instructions: 'Refund the orders you are asked to refund.',
    tools: [refund],
    model: options.model,
    ...(options.deadlineMs === undefined ? {} : { limits: { deadlineMs: options.deadlineMs } }),
  });
}
