import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { createScriptedModel } from '../../src/model/index.ts';
import type { ScriptedResponseInput } from '../../src/model/scripted-script.ts';
import { createKeel } from '../../src/runtime/index.ts';
import type { Keel, KeelOptions } from '../../src/runtime/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import type { Model } from '../../src/spec/model.ts';

/** Usage of every scripted response: 1,500 tokens, so budgets cross at known points. */
export const usage = { input_tokens: 1000, output_tokens: 500 };

export function toolCall(name: string, input: Record<string, unknown>, id?: string): ScriptedResponseInput {
  return { content: [{ type: 'tool_use', name, input, ...(id === undefined ? {} : { id }) }], stop_reason: 'tool_use', usage };
}

export function toolCalls(calls: readonly { name: string; input: Record<string, unknown>; id: string }[]): ScriptedResponseInput {
  return { content: calls.map((call) => ({ type: 'tool_use' as const, ...call })), stop_reason: 'tool_use', usage };
}

export function answer(text: string): ScriptedResponseInput {
  return { content: [{ type: 'text', text }], stop_reason: 'end_turn', usage };
}

export const note = defineTool({
  name: 'note',
  description: 'Notes a finding.',
  input: z.object({ text: z.string() }),
  risk: 'read',
  execute: ({ text }) => `noted: ${text}`,
});

/** A Keel over a fresh SQLite database in a temp folder, with the given models registered by name. */
export function scratchKeel(models: Record<string, Model | readonly ScriptedResponseInput[]>, options: KeelOptions = {}): { keel: Keel; directory: string; cleanup: () => Promise<void> } {
  const directory = mkdtempSync(join(tmpdir(), 'keel-subagents-'));
  const registered = Object.fromEntries(Object.entries(models).map(([name, model]) => [name, Array.isArray(model) ? createScriptedModel(model as readonly ScriptedResponseInput[]) : (model as Model)]));
  const keel = createKeel({ database: join(directory, 'keel.db'), models: registered, env: {}, ...options });
  return {
    keel,
    directory,
    cleanup: async () => {
      await keel.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** A model whose answer depends on the session's task and turn: each session of a tree gets its own script from one model. */
export function taskModel(answerFor: (task: string, turn: number) => ScriptedResponseInput): Model {
  return {
    provider: 'scripted',
    modelId: 'task-model',
    async generate(request, signal) {
      const first = request.messages[0]?.content[0];
      const task = first?.type === 'text' ? first.text : '';
      const turn = request.messages.filter((message) => message.role === 'assistant').length;
      return createScriptedModel([...Array.from({ length: turn }, () => answer('')), answerFor(task, turn)]).generate(request, signal);
    },
    async *stream(request, signal) {
      yield { type: 'finish', response: await this.generate(request, signal) };
    },
  };
}
