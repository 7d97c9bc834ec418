// The streaming baseline: the bare loop over global fetch with SSE, joining the tool-call deltas by index.
import { runBareLoop } from './bare-loop.ts';
import type { AssistantMessage, ChatMessage, ToolCallMessage } from './bare-loop.ts';
import type { BenchAdapter } from './types.ts';
import { apiKey, lookupToolParam, modelId } from './workload.ts';

const headers = { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` };

interface Delta {
  readonly content?: string | null;
  readonly tool_calls?: readonly { readonly index: number; readonly id?: string; readonly function?: { readonly name?: string; readonly arguments?: string } }[];
}

interface PartialCall {
  id: string;
  name: string;
  arguments: string;
}

async function callModel(url: string, messages: readonly ChatMessage[]): Promise<AssistantMessage> {
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ model: modelId, messages, tools: [lookupToolParam], stream: true, stream_options: { include_usage: true } }),
  });
  if (!response.ok || response.body === null) throw new Error(`raw-fetch-stream: HTTP ${response.status}: ${await response.text()}`);
  const decoder = new TextDecoder();
  const calls: PartialCall[] = [];
  let buffer = '';
  let content = '';
  let done = false;
  for await (const bytes of response.body) {
    buffer += decoder.decode(bytes, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0 && !done; end = buffer.indexOf('\n\n')) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!event.startsWith('data: ')) continue;
      const data = event.slice(6);
      if (data === '[DONE]') {
        done = true;
        break;
      }
      const delta = (JSON.parse(data) as { choices?: readonly { delta?: Delta }[] }).choices?.[0]?.delta;
      if (delta === undefined) continue;
      if (typeof delta.content === 'string') content += delta.content;
      for (const part of delta.tool_calls ?? []) {
        const call = (calls[part.index] ??= { id: '', name: '', arguments: '' });
        if (part.id !== undefined) call.id = part.id;
        if (part.function?.name !== undefined) call.name = part.function.name;
        if (part.function?.arguments !== undefined) call.arguments += part.function.arguments;
      }
    }
  }
  if (!done) throw new Error('raw-fetch-stream: the stream ended without [DONE]');
  if (calls.length === 0) return { role: 'assistant', content };
  const toolCalls: ToolCallMessage[] = calls.map((call) => ({ id: call.id, type: 'function', function: { name: call.name, arguments: call.arguments } }));
  return { role: 'assistant', content: content === '' ? null : content, tool_calls: toolCalls };
}

export const adapter: BenchAdapter = {
  name: 'raw-fetch-stream',
  description: 'bare loop, global fetch, SSE streaming: the baseline for streaming variants',
  streaming: true,
  runSession(baseURL) {
    const url = `${baseURL}/chat/completions`;
    return runBareLoop('raw-fetch-stream', (messages) => callModel(url, messages));
  },
  versions: () => ({ node: process.version }),
};
