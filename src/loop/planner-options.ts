import { KeelError } from '../errors/index.ts';
import type { PlanRecord, PlanStepRecord } from '../spec/events.ts';
import type { AgentDefinition } from './define-agent.ts';

/** What a step's success check sees: the step, its output, and the plan and task it belongs to. */
export interface PlanStepCheckInput {
  readonly task: string;
  readonly plan: PlanRecord;
  readonly step: PlanStepRecord;
  readonly output: string;
}

/** A check's verdict: `true`/`false`, or with the reason the replan is told. */
export type PlanStepVerdict = boolean | { readonly passed: boolean; readonly reason?: string };

/**
 * How a finished step's output is held against its success criterion: a predicate of yours, or `'model'` (the agent's
 * model is asked, and answers that are not a clear pass count as a miss). Without one, a step that completed passes.
 */
export type PlanStepCheck = 'model' | ((input: PlanStepCheckInput) => PlanStepVerdict | Promise<PlanStepVerdict>);

/** Plan-then-execute (`defineAgent({ planner })`): limits of the plan, approval, parallelism, replans and the step check. */
export interface PlannerOptions {
  /**
   * A person approves each plan before any of its steps runs (`keel plan approve`): `true` or `'every-plan'` for every
   * revision, replans included; `'first-plan'` for the first only. Defaults to false.
   */
  readonly approval?: boolean | 'first-plan' | 'every-plan';
  /** Steps a plan may have. Defaults to 20 (at most 100). */
  readonly maxSteps?: number;
  /** Steps running at the same time, each in its child session. Defaults to 4. */
  readonly maxParallel?: number;
  /** Replans after a step fails or misses its criterion; one more deviation fails the session. Defaults to 2. */
  readonly maxReplans?: number;
  readonly check?: PlanStepCheck;
  /** Agents a step may name as its `subagent`, besides the agent's own subagent tools (`asTool`, `handoff`). */
  readonly subagents?: readonly AgentDefinition[];
  /** Added to the planning prompt: conventions for plans of this agent. */
  readonly instructions?: string;
  /** Output tokens of a planning call. Defaults to 4096. */
  readonly maxOutputTokens?: number;
}

export interface ResolvedPlannerOptions {
  readonly approval: 'none' | 'first-plan' | 'every-plan';
  readonly maxSteps: number;
  readonly maxParallel: number;
  readonly maxReplans: number;
  readonly check: PlanStepCheck | null;
  readonly subagents: readonly AgentDefinition[];
  readonly instructions: string | null;
  readonly maxOutputTokens: number;
}

function bounded(agent: string, name: string, value: number | undefined, fallback: number, range: { readonly min: number; readonly max: number }): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    throw new KeelError('invalid-config', `Agent "${agent}" planner.${name} must be an integer from ${range.min} to ${range.max}, got ${value}.`);
  }
  return value;
}

/** Checks the planner options of an agent once, at definition (a bad setting is an `invalid-config` error). */
export function resolvePlannerOptions(options: PlannerOptions | true, agent: string): ResolvedPlannerOptions {
  const given: PlannerOptions = options === true ? {} : options;
  const approval = given.approval === true ? 'every-plan' : given.approval === false || given.approval === undefined ? 'none' : given.approval;
  if (approval !== 'none' && approval !== 'first-plan' && approval !== 'every-plan') {
    throw new KeelError('invalid-config', `Agent "${agent}" planner.approval must be true, false, 'first-plan' or 'every-plan', got ${JSON.stringify(given.approval)}.`);
  }
  if (given.check !== undefined && given.check !== 'model' && typeof given.check !== 'function') {
    throw new KeelError('invalid-config', `Agent "${agent}" planner.check must be 'model' or a function of the step's output.`);
  }
  const names = new Set<string>();
  for (const subagent of given.subagents ?? []) {
    if (names.has(subagent.name)) throw new KeelError('invalid-config', `Agent "${agent}" planner.subagents names agent "${subagent.name}" twice; steps find subagents by name.`);
    names.add(subagent.name);
  }
  return {
    approval,
    maxSteps: bounded(agent, 'maxSteps', given.maxSteps, 20, { min: 1, max: 100 }),
    maxParallel: bounded(agent, 'maxParallel', given.maxParallel, 4, { min: 1, max: 64 }),
    maxReplans: bounded(agent, 'maxReplans', given.maxReplans, 2, { min: 0, max: 20 }),
    check: given.check ?? null,
    subagents: [...(given.subagents ?? [])],
    instructions: given.instructions ?? null,
    maxOutputTokens: bounded(agent, 'maxOutputTokens', given.maxOutputTokens, 4096, { min: 256, max: 64_000 }),
  };
}
