import { z } from 'zod';
import { KeelError } from '../errors/index.ts';
import type { PlanRecord, PlanStepRecord } from '../spec/events.ts';
import type { AgentDefinition } from '../loop/index.ts';
import { subagentOf } from '../loop/index.ts';
import type { ResolvedPlannerOptions } from '../loop/planner-options.ts';

/** The schema's limits, also what the planner's answer limit is derived from (so a valid plan is never cut). */
export const planLimits = {
  stepIdChars: 64,
  goalChars: 4_000,
  descriptionChars: 4_000,
  nameChars: 128,
  expectationChars: 2_000,
  dependencies: 100,
  steps: 100,
} as const;

/** Problems listed in a `plan-invalid` error; the rest are counted. A retry prompt stays small whatever the plan. */
export const maxListedProblems = 20;

/** The longest one listed problem, and all of them together, in characters. */
const maxProblemChars = 600;
const maxProblemsChars = 6_000;

const stepId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'a step id is 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit');
const text = (max: number) => z.string().trim().min(1).max(max);

const planStepSchema = z
  .object({
    id: stepId,
    description: text(planLimits.descriptionChars),
    dependsOn: z.array(stepId).max(planLimits.dependencies).default([]),
    tool: text(planLimits.nameChars).optional(),
    subagent: text(planLimits.nameChars).optional(),
    expectedOutput: text(planLimits.expectationChars),
    successCriterion: text(planLimits.expectationChars),
    rerun: z.boolean().optional(),
  })
  .strict();

const planSchema = z.object({ goal: text(planLimits.goalChars), steps: z.array(planStepSchema).min(1).max(planLimits.steps) }).strict();

/** Room in an answer for prose or a Markdown fence around the plan's JSON. */
const answerSlackChars = 16 * 1024;

/**
 * The longest planner answer read: a plan of `maxSteps` steps with every field at its limit, written as JSON with
 * escapes and indentation (counted as twice its text), plus prose around it. Any plan the schema accepts fits.
 */
export function maxPlanAnswerChars(maxSteps: number): number {
  const { stepIdChars, goalChars, descriptionChars, nameChars, expectationChars, dependencies } = planLimits;
  const keysAndPunctuation = 256;
  const stepChars = stepIdChars + descriptionChars + dependencies * (stepIdChars + 4) + 2 * nameChars + 2 * expectationChars + keysAndPunctuation;
  const steps = Math.min(Math.max(1, Math.floor(maxSteps)), planLimits.steps);
  return answerSlackChars + 2 * (goalChars + keysAndPunctuation + steps * stepChars);
}

/** The plan's shape as the model is told it (JSON Schema), so the prompt and the validation never disagree. */
export const planJsonSchema: Readonly<Record<string, unknown>> = z.toJSONSchema(planSchema, { io: 'input' }) as Record<string, unknown>;

/** What a plan is checked against besides its shape: the agent's tools and subagents, and the planner's limits. */
export interface PlanValidationContext {
  readonly agent: AgentDefinition;
  readonly options: ResolvedPlannerOptions;
}

export type PlanValidation = { readonly ok: true; readonly plan: PlanRecord } | { readonly ok: false; readonly problems: readonly string[] };

/** The agents a step may name as its `subagent`: the agent's subagent tools, then the planner's own list. */
export function subagentsOf(context: PlanValidationContext): ReadonlyMap<string, AgentDefinition> {
  const found = new Map<string, AgentDefinition>();
  for (const [name, tool] of context.agent.tools.entries()) {
    const spec = subagentOf(tool);
    if (spec !== null) found.set(name, spec.agent);
  }
  for (const agent of context.options.subagents) if (!found.has(agent.name)) found.set(agent.name, agent);
  return found;
}

/**
 * Checks a plan: its shape, then what the shape cannot say. Ids are unique, dependencies name steps of the same plan
 * and form no cycle, named tools and subagents exist, and the plan has at most `maxSteps` steps. Every problem is
 * listed up to `maxListedProblems` (then counted), so one retry can fix them without the list flooding its prompt.
 */
export function validatePlan(value: unknown, context: PlanValidationContext): PlanValidation {
  const parsed = planSchema.safeParse(value);
  if (!parsed.success) return { ok: false, problems: cappedProblems(parsed.error.issues.map((issue) => `${issue.path.length === 0 ? 'plan' : issue.path.join('.')}: ${issue.message}`)) };
  const steps: PlanStepRecord[] = parsed.data.steps.map((step) => ({
    id: step.id,
    description: step.description,
    dependsOn: [...new Set(step.dependsOn)],
    ...(step.tool === undefined ? {} : { tool: step.tool }),
    ...(step.subagent === undefined ? {} : { subagent: step.subagent }),
    expectedOutput: step.expectedOutput,
    successCriterion: step.successCriterion,
    ...(step.rerun === true ? { rerun: true } : {}),
  }));
  const problems = [...shapeProblems(steps, context), ...cycleProblems(steps)];
  return problems.length === 0 ? { ok: true, plan: { goal: parsed.data.goal, steps } } : { ok: false, problems: cappedProblems(problems) };
}

function shapeProblems(steps: readonly PlanStepRecord[], context: PlanValidationContext): string[] {
  const problems: string[] = [];
  const { maxSteps } = context.options;
  if (steps.length > maxSteps) problems.push(`the plan has ${steps.length} steps; at most ${maxSteps} are allowed`);
  const ids = new Set<string>();
  for (const step of steps) {
    if (ids.has(step.id)) problems.push(`step id "${step.id}" is used twice`);
    ids.add(step.id);
  }
  const subagents = subagentsOf(context);
  for (const step of steps) {
    for (const dependency of step.dependsOn) {
      if (dependency === step.id) problems.push(`step "${step.id}" depends on itself`);
      else if (!ids.has(dependency)) problems.push(`step "${step.id}" depends on "${dependency}", which is not a step of this plan`);
    }
    if (step.tool !== undefined && !context.agent.tools.has(step.tool)) {
      problems.push(`step "${step.id}" names tool "${step.tool}", which agent "${context.agent.name}" does not have (tools: ${listed([...context.agent.tools.keys()])})`);
    }
    if (step.subagent !== undefined && !subagents.has(step.subagent)) {
      problems.push(`step "${step.id}" names subagent "${step.subagent}", which is not available (subagents: ${listed([...subagents.keys()])})`);
    }
  }
  return problems;
}

/** Kahn's algorithm: the steps left when no step without unfinished dependencies remains are on a cycle. */
function cycleProblems(steps: readonly PlanStepRecord[]): string[] {
  const ids = new Set(steps.map((step) => step.id));
  const waiting = new Map(steps.map((step) => [step.id, step.dependsOn.filter((dependency) => ids.has(dependency) && dependency !== step.id).length]));
  const dependents = new Map<string, string[]>();
  for (const step of steps) for (const dependency of step.dependsOn) if (ids.has(dependency)) dependents.set(dependency, [...(dependents.get(dependency) ?? []), step.id]);
  const ready = [...waiting].filter(([, count]) => count === 0).map(([id]) => id);
  let placed = 0;
  while (ready.length > 0) {
    const id = ready.pop() as string;
    placed += 1;
    for (const dependent of dependents.get(id) ?? []) {
      const left = (waiting.get(dependent) ?? 0) - 1;
      waiting.set(dependent, left);
      if (left === 0) ready.push(dependent);
    }
  }
  if (placed === waiting.size) return [];
  const cycle = [...waiting].filter(([, count]) => count > 0).map(([id]) => id);
  return [`the dependencies form a cycle through steps ${listed(cycle)}; a plan must be a directed acyclic graph`];
}

function listed(names: readonly string[]): string {
  if (names.length === 0) return 'none';
  const shown = names.slice(0, 20).map((name) => `"${name}"`).join(', ');
  return names.length > 20 ? `${shown} and ${names.length - 20} more` : shown;
}

/** Starts the last entry of a capped list; no problem starts with it, so a capped list is recognised. */
const omittedMarker = '… and ';

/**
 * At most `maxListedProblems` problems of at most `maxProblemChars` each and `maxProblemsChars` in all; when some are
 * left out, the last entry says how many. A list capped before passes through unchanged.
 */
export function cappedProblems(problems: readonly string[]): string[] {
  const last = problems.at(-1);
  const earlier = last?.startsWith(omittedMarker) === true ? Number(/^… and (\d{1,9}) more/.exec(last)?.[1] ?? 0) : 0;
  const given = earlier > 0 ? problems.slice(0, -1) : problems;
  const kept: string[] = [];
  let total = 0;
  for (const problem of given) {
    const shown = problem.length > maxProblemChars ? `${problem.slice(0, maxProblemChars)}… (cut)` : problem;
    if (kept.length === maxListedProblems || total + shown.length > maxProblemsChars) break;
    kept.push(shown);
    total += shown.length + 2;
  }
  const omitted = given.length - kept.length + earlier;
  return omitted > 0 ? [...kept, `${omittedMarker}${omitted} more problem${omitted === 1 ? '' : 's'}, not listed: fix these and check the rest by the same rules`] : kept;
}

/** A plan that fails validation, as the error the retry shows the model and the session ends with. */
export function invalidPlanError(problems: readonly string[], attempt: number): KeelError {
  const retry = attempt === 1 ? ' The planner asks the model once more, showing it these problems.' : ' The one retry also failed; the session ends.';
  const listedProblems = cappedProblems(problems);
  return new KeelError('plan-invalid', `The plan is invalid: ${listedProblems.join('; ')}.${retry}`, { details: { problems: listedProblems, attempt } });
}
