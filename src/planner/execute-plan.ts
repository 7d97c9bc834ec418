import type { PendingApproval } from '../loop/index.ts';
import type { PlanDeviationEvent, PlanStepEndEvent, PlanStepRecord } from '../spec/events.ts';
import { stepCallId } from './plan-state.ts';
import type { PlanRevision } from './plan-state.ts';
import type { PlannerContext } from './planner-context.ts';
import { runStep } from './run-step.ts';
import { planOutput } from './step-task.ts';

/** How a revision's execution came out. */
export type ExecutionOutcome =
  | { readonly kind: 'completed'; readonly output: string }
  | { readonly kind: 'deviated'; readonly deviations: readonly PlanDeviationEvent[] }
  | { readonly kind: 'suspended'; readonly approvals: readonly PendingApproval[] }
  | { readonly kind: 'cancelled' };

/** The passing result that makes a step of this revision done: its own run when it is to `rerun`, else any earlier. */
function resultOf(context: PlannerContext, revision: number, step: PlanStepRecord): PlanStepEndEvent | undefined {
  const state = context.writer.state;
  if (step.rerun === true) {
    const end = state.stepEnds.get(stepCallId(revision, step.id));
    return end !== undefined && end.status === 'completed' && end.check.passed ? end : undefined;
  }
  return state.passedResults().get(step.id);
}

/**
 * Runs a revision's steps as a graph: a step starts when every step it depends on is done, at most `maxParallel` at a
 * time, in plan order among those ready. Done steps (this revision's or, unless marked `rerun`, an earlier one's) are
 * not run again. The first deviation stops new starts; steps already running finish and are journaled.
 */
export async function executePlan(context: PlannerContext, revision: PlanRevision): Promise<ExecutionOutcome> {
  const state = context.writer.state;
  const plan = state.planOf(revision);
  const number = revision.revision;
  if (revision.deviations.length > 0) return { kind: 'deviated', deviations: revision.deviations };
  const running = new Map<string, Promise<void>>();
  const approvals: PendingApproval[] = [];
  let failure: { readonly error: unknown } | null = null;
  const done = (step: PlanStepRecord): boolean => resultOf(context, number, step) !== undefined;
  const byId = new Map(plan.steps.map((step) => [step.id, step]));
  const ready = (step: PlanStepRecord): boolean => step.dependsOn.every((id) => { const dependency = byId.get(id); return dependency !== undefined && done(dependency); });
  const halted = (): boolean => failure !== null || approvals.length > 0 || revision.deviations.length > 0 || context.signal.aborted;

  for (;;) {
    for (const step of plan.steps) {
      if (halted() || running.size >= context.options.maxParallel) break;
      if (running.has(step.id) || done(step) || !ready(step)) continue;
      const work = runStep(context, number, plan, step).then(
        (outcome) => {
          if (outcome.kind === 'suspended') approvals.push(...outcome.approvals);
        },
        (error: unknown) => {
          failure ??= { error };
        },
      );
      running.set(step.id, work.finally(() => running.delete(step.id)));
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }

  if (failure !== null) throw (failure as { readonly error: unknown }).error;
  if (revision.deviations.length > 0) return { kind: 'deviated', deviations: revision.deviations };
  if (approvals.length > 0) return { kind: 'suspended', approvals };
  if (context.signal.aborted || !plan.steps.every(done)) return { kind: 'cancelled' };
  const results = new Map(plan.steps.map((step) => [step.id, resultOf(context, number, step) as PlanStepEndEvent]));
  return { kind: 'completed', output: planOutput(plan.steps, results) };
}
