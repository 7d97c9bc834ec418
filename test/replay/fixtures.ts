import { z } from 'zod';
import { defineAgent } from '../../src/loop/index.ts';
import type { AgentDefinition } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import type { ModelRequest } from '../../src/spec/index.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';

export const lookupCustomer = defineTool({
  name: 'lookup_customer',
  description: 'Finds a customer by id',
  input: z.object({ id: z.string() }),
  risk: 'read',
  execute: ({ id }) => ({ id, name: 'Alice Example', email: 'alice@example.com', plan: 'pro' }),
});

export const listOrders = defineTool({
  name: 'list_orders',
  description: 'Lists the orders of a customer',
  input: z.object({ customerId: z.string() }),
  risk: 'read',
  execute: ({ customerId }) => ({ customerId, orders: ['ord_1', 'ord_2'] }),
});

/**
 * `trustLayout: false` for tests that need two sessions to send identical requests: the trust layout fences with a
 * random boundary per session, so otherwise no two sessions' requests are the same.
 */
export function supportAgent(instructions = 'You help support staff. Be brief.', options: { readonly trustLayout?: boolean } = {}): AgentDefinition {
  return defineAgent({ name: 'support', instructions, tools: [lookupCustomer, listOrders], streaming: false, ...(options.trustLayout === false ? { injection: { trustLayout: false } } : {}) });
}

/** Three turns: two tools in parallel, then one tool, then the answer. */
export function supportScript(): ReturnType<typeof scriptedCaller> {
  return scriptedCaller([
    { content: [text('Looking up the customer and the orders.'), toolUse('c1', 'lookup_customer', { id: 'cus_1' }), toolUse('c2', 'list_orders', { customerId: 'cus_1' })] },
    { content: [text('Checking orders again.'), toolUse('c3', 'list_orders', { customerId: 'cus_1' })] },
    { content: [text('Alice (alice@example.com) has two orders: ord_1 and ord_2.')] },
  ]);
}

export const supportTask = 'Customer cus_1 (alice@example.com) asks how many orders she has.';

/** A request without one tool result (and its tool_use left in place), as a truncating context strategy would produce. */
export function withoutToolResult(request: ModelRequest, toolUseId: string): ModelRequest {
  return {
    ...request,
    messages: request.messages.map((message) => ({ ...message, content: message.content.filter((block) => !(block.type === 'tool_result' && block.toolUseId === toolUseId)) })),
  };
}
