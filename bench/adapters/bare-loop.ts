// The bare agent loop shared by the raw adapters: keep the message list, call the model, run the tool calls
// it asks for, stop at the first reply without tool calls. Only the HTTP transport differs between them.
import { checkOutcome, lookupValue, maxTurns, systemPrompt, taskFor } from './workload.ts';

export interface ToolCallMessage {
  readonly id: string;
  readonly type: 'function';
  readonly function: { readonly name: string; readonly arguments: string };
}

export type ChatMessage =
  | { readonly role: 'system' | 'user'; readonly content: string }
  | { readonly role: 'assistant'; readonly content: string | null; readonly tool_calls?: readonly ToolCallMessage[] }
  | { readonly role: 'tool'; readonly tool_call_id: string; readonly content: string };

export type AssistantMessage = Extract<ChatMessage, { role: 'assistant' }>;

/** Sends the conversation so far and returns the assistant's reply. */
export type CallModel = (messages: readonly ChatMessage[]) => Promise<AssistantMessage>;

function runTool(call: ToolCallMessage): string {
  if (call.function.name !== 'lookup') throw new Error(`unknown tool ${call.function.name}`);
  const input = JSON.parse(call.function.arguments) as { key?: unknown };
  if (typeof input.key !== 'string') throw new Error(`lookup needs a string key, got ${call.function.arguments}`);
  return lookupValue(input.key);
}

let sessions = 0;

export async function runBareLoop(adapter: string, callModel: CallModel): Promise<void> {
  sessions += 1;
  const messages: ChatMessage[] = [
    { role: 'system', content: systemPrompt },
    { role: 'user', content: taskFor(sessions) },
  ];
  for (let turn = 1; turn <= maxTurns; turn += 1) {
    const reply = await callModel(messages);
    messages.push(reply);
    const calls = reply.tool_calls ?? [];
    if (calls.length === 0) {
      checkOutcome(adapter, turn, reply.content);
      return;
    }
    for (const call of calls) messages.push({ role: 'tool', tool_call_id: call.id, content: runTool(call) });
  }
  throw new Error(`${adapter}: no final answer within ${maxTurns} turns.`);
}

/** The assistant message of a non-streamed completion. */
export function assistantOf(completion: unknown): AssistantMessage {
  const choices = (completion as { choices?: readonly { message?: AssistantMessage }[] }).choices;
  const message = choices?.[0]?.message;
  if (message === undefined) throw new Error('the completion has no choices[0].message');
  return message;
}
