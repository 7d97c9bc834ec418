import { KeelError } from '../errors/index.ts';
import { answerText, firstJsonObject } from '../security/model-json.ts';
import type { Message } from '../spec/message.ts';
import type { PlanInvalidEvent, PlanRecord } from '../spec/events.ts';
import { planningMessage, planningSystemPrompt, retryMessages } from './plan-prompt.ts';
import type { ReplanFacts } from './plan-prompt.ts';
import { invalidPlanError, maxPlanAnswerChars, validatePlan } from './plan-schema.ts';
import type { PlannerContext } from './planner-context.ts';

/** The model's answer kept in `plan-invalid` (and shown to it again in the retry). */
const keptAnswerChars = 16_000;

/** A plan, or the typed error that ends the session (the retry also failed). */
export type ProposalOutcome = { readonly ok: true; readonly plan: PlanRecord } | { readonly ok: false; readonly error: KeelError };

/**
 * Plans the revision the session needs next. An invalid answer is journaled (`plan-invalid`) and retried exactly once
 * with the validation error; a second invalid answer ends with `plan-invalid`. A crash between the two resumes at the
 * retry: the journaled first answer is what the model is shown.
 */
export async function proposePlan(context: PlannerContext): Promise<ProposalOutcome> {
  const state = context.writer.state;
  const revision = state.revisionToPlan;
  const second = state.invalid.get(`${revision}#2`);
  if (second !== undefined) return { ok: false, error: new KeelError('plan-invalid', second.error.message) };
  const first = state.invalid.get(`${revision}#1`) ?? null;
  return first === null ? attempt(context, revision, null) : attempt(context, revision, first);
}

async function attempt(context: PlannerContext, revision: number, previous: PlanInvalidEvent | null): Promise<ProposalOutcome> {
  const { services, options, agent, writer } = context;
  const number = previous === null ? 1 : 2;
  const messages: Message[] = [planningMessage(context.task, replanFacts(context, revision))];
  if (previous !== null) messages.push(...retryMessages(previous.answer, previous.error.message));
  checkBudget(context);
  const { response, latencyMs } = await services.caller.call(
    { system: planningSystemPrompt(agent, options), messages, tools: [], maxOutputTokens: options.maxOutputTokens },
    { signal: context.signal, streaming: false, deadlineAt: context.deadlineAt },
  );
  const costUsd = services.price(response.usage, response.model);
  context.ledger?.charge(response.usage, costUsd);
  const spend = { model: response.model, usage: response.usage, costUsd, latencyMs };
  const answer = answerText(response.content);
  const json = firstJsonObject(answer, { maxChars: maxPlanAnswerChars(options.maxSteps) });
  const validation = json.ok ? validatePlan(json.value, { agent, options }) : { ok: false as const, problems: [`the answer is not a JSON object (${json.problem})`] };
  if (validation.ok) {
    const requiresApproval = options.approval === 'every-plan' || (options.approval === 'first-plan' && revision === 1);
    await writer.append([{ type: 'plan-proposed', revision, plan: validation.plan, attempt: number, requiresApproval, ...spend }]);
    return { ok: true, plan: validation.plan };
  }
  const error = invalidPlanError(validation.problems, number);
  await writer.append([{ type: 'plan-invalid', revision, attempt: number, error: error.toRecord(), answer: answer.slice(0, keptAnswerChars), ...spend }]);
  if (number === 2) return { ok: false, error };
  const journaled = writer.state.invalid.get(`${revision}#1`);
  if (journaled === undefined) throw new KeelError('internal', `The planner journaled plan-invalid for revision ${revision} but cannot read it back.`);
  return attempt(context, revision, journaled);
}

/** The facts of a replan, from the journal: why, the plan it replaces, and what has finished. */
function replanFacts(context: PlannerContext, revision: number): ReplanFacts | null {
  const state = context.writer.state;
  const replan = state.replans.at(-1);
  if (revision === 1 || replan === undefined) return null;
  const previous = state.revisions.get(replan.fromRevision);
  if (previous === undefined) throw new KeelError('journal-corrupt', `Session ${context.writer.sessionId}: a replan from revision ${replan.fromRevision}, which was never proposed.`);
  return {
    revision: replan.fromRevision,
    reason: replan.reason,
    previous: state.planOf(previous),
    finished: [...state.passedResults().values()],
    replansLeft: replan.maxReplans - replan.replan,
  };
}

/** A spent budget stops the planner before its next model call. */
export function checkBudget(context: PlannerContext): void {
  const trip = context.ledger?.trip() ?? null;
  if (trip !== null) throw new KeelError('guard-tripped', `${trip.message} The planner stopped before its next model call.`, { details: { guard: trip.guard, limit: trip.limit, actual: trip.actual } });
}
