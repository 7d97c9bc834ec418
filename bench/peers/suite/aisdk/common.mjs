// Vercel AI SDK: generateText or streamText with the lookup tool, stopping after at most 50 steps.
import { generateText, stepCountIs, streamText, tool } from 'ai';
import { z } from 'zod';
import { pkgVersions } from '../harness/versions.mjs';

export const versions = () => pkgVersions(import.meta.url, ['ai', '@ai-sdk/openai-compatible', '@ai-sdk/openai', '@ai-sdk/provider-utils', 'zod']);

const tools = {
  lookup: tool({
    description: 'Look up a key',
    inputSchema: z.object({ key: z.string() }),
    execute: async ({ key }) => `value:${key}:`.padEnd(200, 'x'),
  }),
};
const request = { system: 'You are a helpful agent.', prompt: 'Look up the keys and answer.', tools, stopWhen: stepCountIs(50), maxRetries: 0 };

/** A session runner over the model `modelFor(baseURL)` returns, streaming or not. */
export function makeRunSession(modelFor, { stream = false } = {}) {
  return async function runSession(baseURL) {
    const model = modelFor(baseURL);
    let text;
    let stepCount;
    if (stream) {
      const result = streamText({ model, ...request });
      text = await result.text;
      stepCount = (await result.steps).length;
    } else {
      const result = await generateText({ model, ...request });
      text = result.text;
      stepCount = result.steps.length;
    }
    if (!text.includes('42') || stepCount !== 10) throw new Error(`unexpected result: ${stepCount} steps, text ${JSON.stringify(text)}`);
  };
}
