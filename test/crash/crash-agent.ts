import { appendFileSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineAgent } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';

/**
 * A payment tool whose effects live outside the process: every execution appends to `attempts.log`,
 * and the charge itself is applied at most once per idempotency key, as a real payment API would.
 */
export function createCrashAgent(effectsDirectory: string) {
  mkdirSync(join(effectsDirectory, 'applied'), { recursive: true });
  const charge = defineTool({
    name: 'charge',
    description: 'Charges a customer.',
    input: z.object({ customer: z.string(), cents: z.number().int() }),
    risk: 'write',
    execute: async ({ customer, cents }, context) => {
      appendFileSync(join(effectsDirectory, 'attempts.log'), `${context.idempotencyKey} ${customer}\n`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      try {
        closeSync(openSync(join(effectsDirectory, 'applied', context.idempotencyKey), 'wx'));
        appendFileSync(join(effectsDirectory, 'charges.log'), `${context.idempotencyKey} ${customer} ${cents}\n`);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      return { charged: customer, cents };
    },
  });
  return defineAgent({ name: 'crash-biller', instructions: 'Charge the customers you are asked to charge.', tools: [charge], streaming: true });
}
