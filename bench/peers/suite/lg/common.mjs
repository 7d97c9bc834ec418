// LangGraph.js: the prebuilt ReAct agent with ChatOpenAI (Chat Completions) and the lookup tool; the variants
// differ in the checkpointer that keeps each thread's state.
import { tool } from '@langchain/core/tools';
import { createReactAgent } from '@langchain/langgraph/prebuilt';
import { ChatOpenAI } from '@langchain/openai';
import { z } from 'zod';
import { pkgVersions } from '../harness/versions.mjs';

export const versions = () => pkgVersions(import.meta.url, ['@langchain/langgraph', '@langchain/langgraph-checkpoint', '@langchain/langgraph-checkpoint-sqlite', '@langchain/langgraph-checkpoint-postgres', '@langchain/openai', '@langchain/core', 'openai', 'better-sqlite3', 'pg', 'zod']);

const lookup = tool(async ({ key }) => `value:${key}:`.padEnd(200, 'x'), {
  name: 'lookup',
  description: 'Look up a key',
  schema: z.object({ key: z.string() }),
});
/** The conversation of a finished session: system-free, the task, nine call/result pairs and the answer. */
const expectedMessages = 20;

/** A session runner; `checkpointer()` is called once, when the agent is built (undefined: no checkpoints). */
export function makeRunSession(checkpointer) {
  let agent;
  let thread = 0;
  return async function runSession(baseURL) {
    agent ??= createReactAgent({
      llm: new ChatOpenAI({ model: 'mock-model', apiKey: 'sk-mock', maxRetries: 0, configuration: { baseURL } }),
      tools: [lookup],
      prompt: 'You are a helpful agent.',
      checkpointer: checkpointer?.(),
    });
    thread += 1;
    const result = await agent.invoke({ messages: [{ role: 'user', content: 'Look up the keys and answer.' }] }, { recursionLimit: 100, configurable: { thread_id: `thread-${process.pid}-${thread}` } });
    const last = result.messages.at(-1);
    if (!String(last?.content).includes('42') || result.messages.length !== expectedMessages) throw new Error(`unexpected result: ${result.messages.length} messages`);
  };
}
