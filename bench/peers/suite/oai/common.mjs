// OpenAI Agents SDK: one agent with the lookup tool on a Chat Completions model pointed at the mock; the variants
// differ only in tracing.
import OpenAI from 'openai';
import { Agent, OpenAIChatCompletionsModel, run, tool } from '@openai/agents';
import { z } from 'zod';
import { pkgVersions } from '../harness/versions.mjs';

export const versions = () => pkgVersions(import.meta.url, ['@openai/agents', '@openai/agents-core', '@openai/agents-openai', 'openai', 'zod']);

const lookup = tool({
  name: 'lookup',
  description: 'Look up a key',
  parameters: z.object({ key: z.string() }),
  execute: async ({ key }) => `value:${key}:`.padEnd(200, 'x'),
});

let agent;
function agentFor(baseURL) {
  agent ??= new Agent({
    name: 'bench',
    instructions: 'You are a helpful agent.',
    model: new OpenAIChatCompletionsModel(new OpenAI({ apiKey: 'sk-mock', baseURL, maxRetries: 0 }), 'mock-model'),
    tools: [lookup],
  });
  return agent;
}

export async function runSession(baseURL) {
  const result = await run(agentFor(baseURL), 'Look up the keys and answer.', { maxTurns: 50 });
  if (typeof result.finalOutput !== 'string' || !result.finalOutput.includes('42')) throw new Error(`unexpected final output: ${String(result.finalOutput)}`);
}
