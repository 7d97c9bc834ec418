// The bare agent loop every framework is compared with: send the conversation, run the one tool the model asks
// for, append its result, until the model answers in text. Only the transport differs between the raw adapters.
export const tools = [{ type: 'function', function: { name: 'lookup', description: 'Look up a key', parameters: { type: 'object', properties: { key: { type: 'string' } }, required: ['key'], additionalProperties: false } } }];
export const lookup = ({ key }) => `value:${key}:`.padEnd(200, 'x');
const maximumTurns = 50;

/** Runs one session; `complete(url, body)` returns the assistant message of one Chat Completions call. */
export async function runLoop(baseURL, complete) {
  const url = `${baseURL}/chat/completions`;
  const messages = [{ role: 'system', content: 'You are a helpful agent.' }, { role: 'user', content: 'Look up the keys and answer.' }];
  for (let turn = 0; turn < maximumTurns; turn += 1) {
    const message = await complete(url, { model: 'mock-model', messages, tools });
    messages.push(message);
    if (!message.tool_calls?.length) return;
    for (const call of message.tool_calls) messages.push({ role: 'tool', tool_call_id: call.id, content: lookup(JSON.parse(call.function.arguments)) });
  }
  throw new Error(`no final answer after ${maximumTurns} turns`);
}
