// The lower floor: the same bare loop over node:http with a keep-alive agent instead of fetch.
import http from 'node:http';
import { assistantOf, runBareLoop } from './bare-loop.ts';
import type { ChatMessage } from './bare-loop.ts';
import type { BenchAdapter } from './types.ts';
import { apiKey, lookupToolParam, modelId } from './workload.ts';

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

function post(url: URL, messages: readonly ChatMessage[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const body = Buffer.from(JSON.stringify({ model: modelId, messages, tools: [lookupToolParam] }));
    const request = http.request(
      url,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length, authorization: `Bearer ${apiKey}` } },
      (response) => {
        const parts: Buffer[] = [];
        response.on('data', (part: Buffer) => parts.push(part));
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          if (response.statusCode !== 200) reject(new Error(`raw-node-http: HTTP ${response.statusCode}: ${text}`));
          else {
            try {
              resolve(JSON.parse(text));
            } catch (error) {
              reject(error instanceof Error ? error : new Error(String(error)));
            }
          }
        });
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

export const adapter: BenchAdapter = {
  name: 'raw-node-http',
  description: 'bare loop, node:http with a keep-alive agent: the lower floor',
  streaming: false,
  runSession(baseURL) {
    const url = new URL(`${baseURL}/chat/completions`);
    return runBareLoop('raw-node-http', async (messages) => assistantOf(await post(url, messages)));
  },
  teardown: () => agent.destroy(),
  versions: () => ({ node: process.version }),
};
