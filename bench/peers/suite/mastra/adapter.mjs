// Mastra: an Agent with the lookup tool on an openai-compatible model; agent.generate runs Mastra's own step loop.
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { Agent } from '@mastra/core/agent';
import { createTool } from '@mastra/core/tools';
import { z } from 'zod';
import { pkgVersions } from '../harness/versions.mjs';

export const name = 'mastra';
export const versions = () => pkgVersions(import.meta.url, ['@mastra/core', '@ai-sdk/openai-compatible', 'ai-v5', 'zod']);

const lookup = createTool({
  id: 'lookup',
  description: 'Look up a key',
  inputSchema: z.object({ key: z.string() }),
  execute: async ({ context }) => `value:${context.key}:`.padEnd(200, 'x'),
});

let agent;
export async function runSession(baseURL) {
  agent ??= new Agent({
    name: 'bench',
    instructions: 'You are a helpful agent.',
    model: createOpenAICompatible({ name: 'mock', baseURL, apiKey: 'sk-mock' }).chatModel('mock-model'),
    tools: { lookup },
  });
  const result = await agent.generate('Look up the keys and answer.', { maxSteps: 50, modelSettings: { maxRetries: 0 } });
  if (!result.text.includes('42') || result.steps.length !== 10) throw new Error(`unexpected result: ${result.steps?.length} steps, text ${JSON.stringify(result.text)}`);
}
