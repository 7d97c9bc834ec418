// The baseline: the bare loop over global fetch (undici), non-streaming.
import { assistantOf, runBareLoop } from './bare-loop.ts';
import type { ChatMessage } from './bare-loop.ts';
import type { BenchAdapter } from './types.ts';
import { apiKey, lookupToolParam, modelId } from './workload.ts';

const headers = { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` };

async function callModel(url: string, messages: readonly ChatMessage[]) {
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ model: modelId, messages, tools: [lookupToolParam] }) });
  if (!response.ok) throw new Error(`raw-fetch: HTTP ${response.status}: ${await response.text()}`);
  return assistantOf(await response.json());
}

export const adapter: BenchAdapter = {
  name: 'raw-fetch',
  description: 'bare loop, global fetch (undici), non-streaming: the baseline',
  streaming: false,
  runSession(baseURL) {
    const url = `${baseURL}/chat/completions`;
    return runBareLoop('raw-fetch', (messages) => callModel(url, messages));
  },
  versions: () => ({ node: process.version }),
};
