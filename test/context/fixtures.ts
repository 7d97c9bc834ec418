import type { Message } from '../../src/spec/message.ts';
import type { ToolSpec } from '../../src/spec/model.ts';

export type Step = { kind: 'text'; assistant: number; user: number } | { kind: 'tools'; calls: readonly number[] };

export function words(count: number, seed: number): string {
  const out: string[] = [];
  for (let index = 0; index < count; index += 1) out.push(`w${(seed * 31 + index * 7) % 997}`);
  return out.join(' ');
}

/** A history the loop could have built: the task, then per turn an assistant message and the user's answer or the tool results. */
export function buildHistory(steps: readonly Step[], task = 'Find the order and refund it.'): Message[] {
  const messages: Message[] = [{ role: 'user', content: [{ type: 'text', text: task }] }];
  steps.forEach((step, turn) => {
    if (step.kind === 'text') {
      messages.push({ role: 'assistant', content: [{ type: 'text', text: words(step.assistant, turn) }] });
      messages.push({ role: 'user', content: [{ type: 'text', text: words(step.user, turn + 1) }] });
    } else {
      const ids = step.calls.map((_, index) => `call_${turn}_${index}`);
      messages.push({ role: 'assistant', content: [{ type: 'text', text: 'Looking it up.' }, ...ids.map((id) => ({ type: 'tool_use' as const, id, name: 'lookup', input: { key: id } }))] });
      messages.push({ role: 'user', content: step.calls.map((size, index) => ({ type: 'tool_result' as const, toolUseId: ids[index] as string, content: words(size, turn + index), isError: false })) });
    }
  });
  return messages;
}

export const tools: ToolSpec[] = [{ name: 'lookup', description: 'Look a key up.', inputSchema: { type: 'object', properties: { key: { type: 'string' } }, required: ['key'] } }];

/** Every tool_result's tool_use is in the previous assistant message, and every tool_use's result in the next message. */
export function pairsValid(messages: readonly Message[]): boolean {
  for (let index = 0; index < messages.length; index += 1) {
    const message = messages[index] as Message;
    const results = message.content.flatMap((block) => (block.type === 'tool_result' ? [block.toolUseId] : []));
    const uses = message.content.flatMap((block) => (block.type === 'tool_use' ? [block.id] : []));
    if (results.length > 0) {
      const previous = messages[index - 1];
      if (message.role !== 'user' || previous?.role !== 'assistant') return false;
      const previousUses = new Set(previous.content.flatMap((block) => (block.type === 'tool_use' ? [block.id] : [])));
      if (!results.every((id) => previousUses.has(id))) return false;
    }
    if (uses.length > 0 && index < messages.length - 1) {
      const next = messages[index + 1];
      const nextResults = new Set(next?.content.flatMap((block) => (block.type === 'tool_result' ? [block.toolUseId] : [])) ?? []);
      if (!uses.every((id) => nextResults.has(id))) return false;
    }
  }
  return true;
}
