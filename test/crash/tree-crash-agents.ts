import { appendFileSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { asTool, defineAgent } from '../../src/loop/index.ts';
import type { AgentDefinition } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import type { ContentBlock } from '../../src/spec/message.ts';
import type { Model, ModelRequest, ModelResponse } from '../../src/spec/model.ts';

/**
 * A tree of three levels for the crash tests: a root that delegates two regions to managers, each of which delegates
 * two accounts to workers, each of which charges its account once. The charge lives outside the process: every
 * execution is logged in `attempts.log`, and the charge is applied at most once per idempotency key, as a payment API
 * would (`applied/<key>`, `charges.log`).
 */
export const treeRegions = ['north', 'south'] as const;
export const treeAccounts = treeRegions.flatMap((region) => [`${region}-1`, `${region}-2`]);
export const treeRootOutput = 'All regions billed.';

export function createTreeAgents(effectsDirectory: string): { root: AgentDefinition; manager: AgentDefinition; worker: AgentDefinition } {
  mkdirSync(join(effectsDirectory, 'applied'), { recursive: true });
  const charge = defineTool({
    name: 'charge',
    description: 'Charges an account.',
    input: z.object({ account: z.string(), cents: z.number().int() }),
    risk: 'write',
    execute: async ({ account, cents }, context) => {
      appendFileSync(join(effectsDirectory, 'attempts.log'), `${context.idempotencyKey} ${account}\n`);
      await new Promise((resolve) => setTimeout(resolve, 3));
      try {
        closeSync(openSync(join(effectsDirectory, 'applied', context.idempotencyKey), 'wx'));
        appendFileSync(join(effectsDirectory, 'charges.log'), `${context.idempotencyKey} ${account} ${cents}\n`);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      return { charged: account, cents };
    },
  });
  const worker = defineAgent({ name: 'tree-worker', instructions: 'Charge the account you are given.', tools: [charge], model: 'tree', streaming: false });
  const manager = defineAgent({ name: 'tree-manager', instructions: 'Bill each account of your region.', tools: [asTool(worker, { name: 'bill_account', description: 'Bills one account.' })], model: 'tree', streaming: false });
  const root = defineAgent({ name: 'tree-root', instructions: 'Bill every region.', tools: [asTool(manager, { name: 'bill_region', description: 'Bills one region.' })], model: 'tree', streaming: false });
  return { root, manager, worker };
}

const usage = { inputTokens: 100, outputTokens: 20, cacheReadTokens: 0, cacheWriteTokens: 0 };

function toolUses(name: string, tasks: readonly string[]): ContentBlock[] {
  return tasks.map((task, index) => ({ type: 'tool_use', id: `${name}_${index + 1}`, name, input: { task } }));
}

/** What each agent of the tree answers, from its task and its turn: the same request always gets the same response, so a resumed session continues where it stopped. */
function respond(request: ModelRequest): ModelResponse {
  const first = request.messages[0]?.content[0];
  const task = first?.type === 'text' ? first.text : '';
  const turn = request.messages.filter((message) => message.role === 'assistant').length;
  const done = (text: string): ModelResponse => ({ id: `r_${turn}`, model: 'tree', content: [{ type: 'text', text }], stopReason: 'end_turn', providerStopReason: 'end_turn', usage });
  const calls = (content: ContentBlock[]): ModelResponse => ({ id: `r_${turn}`, model: 'tree', content, stopReason: 'tool_use', providerStopReason: 'tool_use', usage });
  if (task.startsWith('Bill every region')) return turn === 0 ? calls(toolUses('bill_region', treeRegions.map((region) => `region ${region}`))) : done(treeRootOutput);
  const region = /^region (\w+)$/.exec(task)?.[1];
  if (region !== undefined) return turn === 0 ? calls(toolUses('bill_account', [`account ${region}-1`, `account ${region}-2`])) : done(`Region ${region} billed.`);
  const account = /^account ([\w-]+)$/.exec(task)?.[1];
  if (account !== undefined) {
    return turn === 0 ? calls([{ type: 'tool_use', id: 'charge_1', name: 'charge', input: { account, cents: 100 } }]) : done(`Charged ${account}.`);
  }
  throw new Error(`The tree model has no answer for the task ${JSON.stringify(task)}.`);
}

export function createTreeModel(): Model {
  return {
    provider: 'scripted',
    modelId: 'tree',
    async generate(request: ModelRequest): Promise<ModelResponse> {
      return respond(request);
    },
    async *stream(request: ModelRequest) {
      yield { type: 'finish' as const, response: respond(request) };
    },
  };
}
