import { KeelError } from '../errors/index.ts';
import type { Model, ModelRequest } from '../spec/model.ts';
import { createScriptedModel } from './scripted-model.ts';
import type { ScriptedResponseInput } from './scripted-script.ts';

/** One script of a task-scripted model: played for sessions whose task (first user message) contains `whenTaskIncludes`. */
export interface TaskScript {
  readonly whenTaskIncludes: string;
  readonly responses: readonly ScriptedResponseInput[];
}

/**
 * A scripted model for trees of agents: one model whose script is chosen by the session's task (the first script
 * whose text the task contains), then played by turn like `createScriptedModel`. Each child session of a tree has
 * its own task, so subagents, handoffs and workflow steps each get their own replies from one model, and a resumed
 * session gets the same reply for the same turn.
 * @example
 * ```ts
 * const model = createTaskScriptedModel([
 *   { whenTaskIncludes: 'Compare', responses: [{ content: [{ type: 'tool_use', name: 'research', input: { task: 'Find X' } }] }, { content: [{ type: 'text', text: 'X wins [R1].' }] }] },
 *   { whenTaskIncludes: 'Find X', responses: [{ content: [{ type: 'text', text: 'X is fast.' }] }] },
 * ]);
 * ```
 */
export function createTaskScriptedModel(scripts: readonly TaskScript[], options: { readonly modelId?: string } = {}): Model {
  const modelId = options.modelId ?? 'scripted';
  const models = scripts.map((script, index) => ({ when: script.whenTaskIncludes, model: createScriptedModel(script.responses, { modelId, source: `task script ${index + 1} ("${script.whenTaskIncludes}")` }) }));
  const choose = (request: ModelRequest): Model => {
    const first = request.messages[0]?.content.find((block) => block.type === 'text');
    const task = first?.type === 'text' ? first.text : '';
    const found = models.find((entry) => task.includes(entry.when));
    if (found === undefined) {
      throw new KeelError('invalid-config', `No task script matches the task "${task.slice(0, 200)}"; add a script whose whenTaskIncludes is part of it.`, { details: { scripts: scripts.length } });
    }
    return found.model;
  };
  return {
    provider: 'scripted',
    modelId,
    generate: (request, signal) => choose(request).generate(request, signal),
    stream: (request, signal) => choose(request).stream(request, signal),
  };
}
