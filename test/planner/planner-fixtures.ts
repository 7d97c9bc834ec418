import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createScriptedModel } from '../../src/model/index.ts';
import type { ScriptedResponseInput } from '../../src/model/scripted-script.ts';
import { createKeel } from '../../src/runtime/index.ts';
import type { Keel, KeelOptions } from '../../src/runtime/index.ts';
import type { Model, ModelRequest, ModelResponse } from '../../src/spec/model.ts';
import type { SessionEvent } from '../../src/spec/events.ts';

/** What the planner model answers: planning calls in order, each step's child session by step id, model checks in order. */
export interface PlannerScript {
  readonly plans: readonly (string | object)[];
  readonly steps: Readonly<Record<string, readonly ScriptedResponseInput[]>>;
  readonly checks?: readonly string[];
}

const usage = { inputTokens: 100, outputTokens: 50, cacheReadTokens: 0, cacheWriteTokens: 0 };

function firstText(request: ModelRequest): string {
  const block = request.messages[0]?.content.find((part) => part.type === 'text');
  return block?.type === 'text' ? block.text : '';
}

function textResponse(text: string, index: number): ModelResponse {
  return { id: `msg_plan_${index}`, model: 'planner-model', content: [{ type: 'text', text }], stopReason: 'end_turn', providerStopReason: 'end_turn', usage };
}

/**
 * One model for a planner tree: the planning calls (system prompt of the planner) get `plans` in order, model checks
 * get `checks`, and each step's child session plays the script of its step id (by turn, so a resumed child gets the
 * same answer). Every request is recorded.
 */
export function plannerModel(script: PlannerScript): Model & { readonly planning: ModelRequest[]; readonly checking: ModelRequest[]; readonly stepTasks: string[] } {
  const planning: ModelRequest[] = [];
  const checking: ModelRequest[] = [];
  const stepTasks: string[] = [];
  const steps = new Map(Object.entries(script.steps).map(([id, responses]) => [id, createScriptedModel(responses, { modelId: 'planner-model', source: `step ${id}` })]));
  const route = (request: ModelRequest): Model | ModelResponse => {
    const system = request.system ?? '';
    if (system.startsWith('You are the planner')) {
      planning.push(request);
      const answer = script.plans[planning.length - 1];
      if (answer === undefined) throw new Error(`The script has ${script.plans.length} plans; planning call ${planning.length} was made.`);
      return textResponse(typeof answer === 'string' ? answer : JSON.stringify(answer), planning.length);
    }
    if (system.startsWith('You check whether')) {
      checking.push(request);
      const answer = script.checks?.[checking.length - 1];
      if (answer === undefined) throw new Error(`The script has no answer for model check ${checking.length}.`);
      return textResponse(answer, 100 + checking.length);
    }
    const task = firstText(request);
    const id = /Your step \(([^)]+)\)/.exec(task)?.[1];
    const model = id === undefined ? undefined : steps.get(id);
    if (model === undefined) throw new Error(`No step script for the task: ${task.slice(0, 200)}`);
    if (!request.messages.some((message) => message.role === 'assistant')) stepTasks.push(task);
    return model;
  };
  const isModel = (value: Model | ModelResponse): value is Model => 'generate' in value;
  return {
    provider: 'scripted',
    modelId: 'planner-model',
    planning,
    checking,
    stepTasks,
    async generate(request, signal) {
      const routed = route(request);
      return isModel(routed) ? routed.generate(request, signal) : routed;
    },
    async *stream(request, signal) {
      const routed = route(request);
      if (isModel(routed)) yield* routed.stream(request, signal);
      else yield { type: 'finish', response: routed };
    },
  };
}

export const answer = (text: string): ScriptedResponseInput => ({ content: [{ type: 'text', text }], stop_reason: 'end_turn' });
export const callTool = (name: string, input: Record<string, unknown>): ScriptedResponseInput => ({ content: [{ type: 'tool_use', name, input }], stop_reason: 'tool_use' });

/** A plan step as the model writes it. */
export function planStep(id: string, dependsOn: readonly string[] = [], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, description: `Do ${id}.`, dependsOn, expectedOutput: `the result of ${id}`, successCriterion: `${id} is done`, ...extra };
}

/** A Keel over a fresh SQLite database in a temp folder, the model registered as `planner`. */
export function scratchKeel(model: Model, options: KeelOptions = {}): { keel: Keel; directory: string; cleanup: () => Promise<void> } {
  const directory = mkdtempSync(join(tmpdir(), 'keel-planner-'));
  const keel = createKeel({ database: join(directory, 'keel.db'), models: { planner: model }, modelRetries: 0, env: {}, ...options });
  return {
    keel,
    directory,
    cleanup: async () => {
      await keel.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** The event types and step ids of a planner journal, one string each: `plan-step-start a`, `replan`, … */
export function planTimeline(events: readonly SessionEvent[]): string[] {
  return events.flatMap((event) => {
    switch (event.type) {
      case 'plan-step-start':
      case 'plan-step-end':
      case 'plan-deviation':
        return [`${event.type} ${event.stepId}`];
      case 'plan-proposed':
      case 'plan-invalid':
      case 'replan':
      case 'plan-approval':
      case 'session-end':
        return [event.type];
      default:
        return [];
    }
  });
}
