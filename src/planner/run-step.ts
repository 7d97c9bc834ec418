import { isKeelError, toKeelError } from '../errors/index.ts';
import { childEndBody, childSessionId } from '../loop/index.ts';
import type { AgentDefinition, PendingApproval, SessionResult } from '../loop/index.ts';
import type { EventBody, PlanRecord, PlanStepEndEvent, PlanStepRecord } from '../spec/events.ts';
import { subagentsOf } from './plan-schema.ts';
import { stepCallId } from './plan-state.ts';
import type { PlannerContext } from './planner-context.ts';
import { checkStep } from './step-check.ts';
import type { StepCheckRecord } from './step-check.ts';
import { stepTask } from './step-task.ts';

/** A step's end as the executor sees it: recorded (with or without a deviation), or suspended in its child session. */
export type StepOutcome = { readonly kind: 'ended'; readonly end: PlanStepEndEvent } | { readonly kind: 'suspended'; readonly approvals: readonly PendingApproval[] };

/** Failures of the journal or the lease are the run's, not the step's: the run stops and its result rejects. */
const runFailures = new Set(['journal-conflict', 'journal-corrupt', 'storage-failure', 'session-busy']);

/** The agent a step runs as: the subagent it names, else the planning agent itself (as a plain agent). */
export function stepAgent(context: PlannerContext, step: PlanStepRecord): AgentDefinition {
  if (step.subagent !== undefined) {
    const subagent = subagentsOf({ agent: context.agent, options: context.options }).get(step.subagent);
    if (subagent !== undefined) return subagent;
  }
  const { planner: _planner, ...plain } = context.agent;
  // The planning agent's steps call the model its session runs with (a `--model` of the run, say), as its own turns would.
  const model = context.writer.state.start?.model.spec ?? plain.model;
  return { ...plain, model };
}

/**
 * Runs one step as a child session whose id derives from the plan's session, the revision and the step id: a resumed
 * plan finds the same child (resumed, or its recorded outcome read) and never starts it twice. `child-start` and
 * `plan-step-start` are journaled together before the child runs; `child-end`, `plan-step-end` and any deviation
 * together after it and its check.
 */
export async function runStep(context: PlannerContext, revision: number, plan: PlanRecord, step: PlanStepRecord): Promise<StepOutcome> {
  const { writer, services } = context;
  const callId = stepCallId(revision, step.id);
  const childId = childSessionId(writer.sessionId, callId);
  const agent = stepAgent(context, step);
  if (!writer.state.stepStarts.has(callId)) {
    await writer.append([
      { type: 'child-start', turn: 0, callId, childSessionId: childId, agent: agent.name, mode: 'step' },
      { type: 'plan-step-start', revision, stepId: step.id, callId, childSessionId: childId, agent: agent.name },
    ]);
  }
  const results = writer.state.passedResults();
  const inputs = step.dependsOn.flatMap((id) => results.get(id) ?? []);
  const startedAt = services.clock.now();
  const result = await childResult(context, { agent, callId, task: stepTask(context.task, step, inputs) });
  if (result.status === 'awaiting-approval') return { kind: 'suspended', approvals: result.pendingApprovals.map((pending) => ({ ...pending, sessionId: pending.sessionId ?? childId, agent: pending.agent ?? agent.name })) };
  const check: StepCheckRecord =
    result.status === 'completed'
      ? await checkStep(context, plan, step, result.output ?? '')
      : { passed: false, by: 'none', reason: `The step's child session ended ${result.status}${result.error === null ? '' : `: ${result.error.message}`}` };
  const end: EventBody = {
    type: 'plan-step-end',
    revision,
    stepId: step.id,
    callId,
    childSessionId: childId,
    status: result.status,
    output: result.output,
    error: result.error,
    check,
    latencyMs: services.clock.now() - startedAt,
  };
  const bodies: EventBody[] = [childEndBody({ callId, turn: 0, childSessionId: childId }, result), end];
  if (result.status === 'failed') bodies.push({ type: 'plan-deviation', revision, stepId: step.id, kind: 'step-failed', reason: `Step ${step.id} failed: ${result.error?.message ?? 'no error recorded'}` });
  else if (result.status === 'completed' && !check.passed) {
    bodies.push({ type: 'plan-deviation', revision, stepId: step.id, kind: 'criterion-missed', reason: `Step ${step.id} missed its success criterion ("${step.successCriterion}"): ${check.reason}` });
  }
  const written = await writer.append(bodies);
  const recorded = written.find((event) => event.type === 'plan-step-end');
  return { kind: 'ended', end: recorded as PlanStepEndEvent };
}

/** The child's outcome; a delegation the runtime refused (wider scopes, a spent budget) is the step's failure. */
async function childResult(context: PlannerContext, request: { readonly agent: AgentDefinition; readonly callId: string; readonly task: string }): Promise<SessionResult> {
  const { writer, services } = context;
  try {
    return await services.children.run({
      agent: request.agent,
      parentSessionId: writer.sessionId,
      callId: request.callId,
      task: request.task,
      mode: 'step',
      heldScopes: context.agent.scopes,
      deadlineAt: context.deadlineAt,
      budget: context.ledger,
      slice: null,
      signal: context.signal,
      ...(context.agentModule === undefined ? {} : { agentModule: context.agentModule }),
    }).result;
  } catch (thrown) {
    if (isKeelError(thrown) && runFailures.has(thrown.code)) throw thrown;
    const error = context.signal.aborted ? toKeelError(context.signal.reason, 'cancelled') : toKeelError(thrown, 'internal');
    const status = error.code === 'cancelled' ? 'cancelled' : 'failed';
    const zero = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };
    return { sessionId: childSessionId(writer.sessionId, request.callId), status, pendingApprovals: [], output: null, error: error.toRecord(), turns: 0, usage: zero, costUsd: 0 };
  }
}
