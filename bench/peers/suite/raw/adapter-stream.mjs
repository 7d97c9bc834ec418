// The bare loop over fetch with streaming (server-sent events): text and tool-call deltas are accumulated.
import { runLoop } from './workload.mjs';

export const name = 'raw-fetch-stream';
export const versions = () => ({ node: process.version });

/** Folds one chunk's delta into the message being built. */
function addDelta(state, delta) {
  if (delta.content) state.content += delta.content;
  for (const part of delta.tool_calls ?? []) {
    state.calls[part.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } };
    const call = state.calls[part.index];
    if (part.id) call.id = part.id;
    if (part.function?.name) call.function.name = part.function.name;
    if (part.function?.arguments) call.function.arguments += part.function.arguments;
  }
}

async function complete(url, body) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-mock' }, body: JSON.stringify({ ...body, stream: true }) });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const decoder = new TextDecoder();
  const state = { content: '', calls: [] };
  let buffer = '';
  for await (const bytes of response.body) {
    buffer += decoder.decode(bytes, { stream: true });
    for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (!event.startsWith('data: ') || event === 'data: [DONE]') continue;
      const delta = JSON.parse(event.slice('data: '.length)).choices[0]?.delta;
      if (delta) addDelta(state, delta);
    }
  }
  return state.calls.length > 0 ? { role: 'assistant', content: null, tool_calls: state.calls } : { role: 'assistant', content: state.content };
}

export const runSession = (baseURL) => runLoop(baseURL, complete);
