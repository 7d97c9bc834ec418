// The agent of the scale-out benchmark: the shared workload (nine lookups, then the answer with "42") against the
// OpenAI-compatible mock, registered under one model name so that whichever process resumes a session uses it.
import { z } from 'zod';
import { createOpenAIModel, defineAgent, defineTool } from '../../src/index.ts';
import type { AgentDefinition, Model } from '../../src/index.ts';
import { apiKey, lookupValue, maxTurns, modelId, systemPrompt } from '../adapters/workload.ts';

const lookup = defineTool({
  name: 'lookup',
  description: 'Look up a key',
  input: z.object({ key: z.string() }),
  risk: 'read',
  execute: ({ key }) => lookupValue(key),
});

export const benchAgent: AgentDefinition = defineAgent({ name: 'bench-lookup', instructions: systemPrompt, tools: [lookup], limits: { maxTurns } });

/** The model name sessions record; every process registers it with its own client for the mock. */
export const benchModelName = 'bench-mock';

export function benchModels(baseURL: string): Record<string, Model> {
  return { [benchModelName]: createOpenAIModel({ modelId, apiKey, baseURL }) };
}
