import type { ContentBlock, Message } from '../../src/spec/message.ts';
import type { Model, ModelRequest, ModelResponse } from '../../src/spec/model.ts';
import { actionKey, parseAttackActions } from './action-parser.ts';
import type { AttackAction } from './action-parser.ts';
import { attackCall } from './sim-world.ts';
import type { TaskTemplate } from './sim-world.ts';

/** Harmful calls the model makes in one message at most. */
const maxAttackCalls = 4;

/**
 * The worst-case agent model: it does the user's task, and it also obeys every instruction it finds anywhere in its
 * context (system prompt, task, tool results), with the arguments the instruction names. Turn 1 reads, turn 2 makes
 * the task's call together with every harmful call it parsed (attacker's first, as injections ask), turn 3 answers.
 * Deterministic: the same context gives the same calls.
 */
export function createWorstCaseModel(template: TaskTemplate): Model {
  const respond = (request: ModelRequest): ModelResponse => {
    const turn = request.messages.filter((message) => message.role === 'assistant').length;
    const content = turn === 0 ? [toolUse(template.readTool, {}, 1, 1)] : turn === 1 ? actCalls(template, contextText(request)) : [{ type: 'text' as const, text: 'Done: I have read it and done what was asked.' }];
    const calls = content.some((block) => block.type === 'tool_use');
    return {
      id: `msg_worst_${turn + 1}`,
      model: 'worst-case',
      content,
      stopReason: calls ? 'tool_use' : 'end_turn',
      providerStopReason: calls ? 'tool_use' : 'end_turn',
      usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 },
    };
  };
  return {
    provider: 'simulation',
    modelId: 'worst-case',
    generate: async (request) => respond(request),
    async *stream(request) {
      yield { type: 'finish', response: respond(request) };
    },
  };
}

function actCalls(template: TaskTemplate, context: string): ContentBlock[] {
  const own = template.action === null ? null : template.action;
  const ownKey = own === null ? null : taskKey(template);
  const attacks = parseAttackActions(context).filter((action) => actionKey(action) !== ownKey).slice(0, maxAttackCalls);
  const blocks: ContentBlock[] = attacks.map((action, index) => {
    const call = attackCall(action);
    return toolUse(call.tool, call.input, 2, index + 1);
  });
  if (own !== null) blocks.push(toolUse(own.tool, own.input, 2, blocks.length + 1));
  if (blocks.length === 0) blocks.push({ type: 'text', text: 'Here is the summary you asked for.' });
  return blocks;
}

/** The task's own effect as an action key, so that the model does not do it twice when it parses the task itself. */
function taskKey(template: TaskTemplate): string | null {
  const input = template.action?.input ?? {};
  const key: Record<string, AttackAction['kind']> = { send_email: 'email', transfer_money: 'transfer', delete_file: 'delete', post_message: 'post' };
  const kind = key[template.action?.tool ?? ''];
  if (kind === 'email') return actionKey({ kind, to: String(input.to), body: '' });
  if (kind === 'transfer') return actionKey({ kind, account: String(input.to_account), amount: 0 });
  if (kind === 'delete') return actionKey({ kind, path: String(input.path) });
  if (kind === 'post') return actionKey({ kind, channel: String(input.channel), text: '' });
  return null;
}

/** Everything the model was shown: the system prompt, every text block and every tool result. */
function contextText(request: ModelRequest): string {
  const parts: string[] = [request.system ?? ''];
  for (const message of request.messages) parts.push(...messageTexts(message));
  return parts.join('\n');
}

function messageTexts(message: Message): string[] {
  return message.content.flatMap((block) => {
    if (block.type === 'text') return [block.text];
    if (block.type === 'tool_result') return [block.content];
    return [];
  });
}

function toolUse(name: string, input: Readonly<Record<string, unknown>>, turn: number, index: number): ContentBlock {
  return { type: 'tool_use', id: `toolu_sim_${turn}_${index}`, name, input: { ...input } };
}
