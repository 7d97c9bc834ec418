import type { ErrorRecord, PlanRecord, SessionEvent, SessionStatus } from '../spec/events.ts';
import type { Usage } from '../spec/usage.ts';

/** One run of one plan step: its child session, outcome and the verdict on its success criterion. */
export interface TracePlanStep {
  readonly stepId: string;
  readonly dependsOn: readonly string[];
  readonly agent: string;
  readonly childSessionId: string;
  readonly status: SessionStatus | 'running';
  readonly latencyMs: number | null;
  readonly check: { readonly passed: boolean; readonly by: string; readonly reason: string } | null;
  readonly error: ErrorRecord | null;
}

/** One revision of a plan: how it was approved, the steps that ran under it, and why it was replaced. */
export interface TracePlanRevision {
  readonly revision: number;
  readonly goal: string;
  readonly steps: readonly string[];
  readonly attempt: number;
  /** `approved`, `edited` or `rejected` by whom, or `not required`, or `waiting`. */
  readonly approval: string;
  readonly runs: readonly TracePlanStep[];
  /** Steps of this revision reused from an earlier one (finished there, not run again). */
  readonly reused: readonly string[];
  readonly deviations: readonly string[];
  /** Why the next revision was planned, when one was. */
  readonly replan: string | null;
}

/** A planner session's plans, revision by revision, and the spend of its own planning and check calls. */
export interface TracePlan {
  readonly revisions: readonly TracePlanRevision[];
  readonly invalidAnswers: readonly string[];
  readonly usage: Usage;
  readonly costUsd: number | null;
}

type MutableRevision = { -readonly [Key in keyof TracePlanRevision]: TracePlanRevision[Key] } & { runs: TracePlanStep[]; deviations: string[]; plan: PlanRecord };

function addSpend(total: { usage: Usage; costUsd: number | null }, usage: Usage | undefined, costUsd: number | null | undefined): void {
  if (usage === undefined) return;
  total.usage = {
    inputTokens: total.usage.inputTokens + usage.inputTokens,
    outputTokens: total.usage.outputTokens + usage.outputTokens,
    cacheReadTokens: total.usage.cacheReadTokens + usage.cacheReadTokens,
    cacheWriteTokens: total.usage.cacheWriteTokens + usage.cacheWriteTokens,
  };
  total.costUsd = total.costUsd === null || costUsd === undefined || costUsd === null ? null : total.costUsd + costUsd;
}

/** The plan part of a session's trace, or undefined when the session is not a planner's. */
export function buildPlanTrace(events: readonly SessionEvent[]): TracePlan | undefined {
  const revisions = new Map<number, MutableRevision>();
  const invalidAnswers: string[] = [];
  const spend = { usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }, costUsd: 0 as number | null };
  const runs = new Map<string, { revision: MutableRevision; index: number }>();
  for (const event of events) {
    switch (event.type) {
      case 'plan-proposed':
        revisions.set(event.revision, {
          revision: event.revision,
          goal: event.plan.goal,
          plan: event.plan,
          steps: event.plan.steps.map((step) => step.id),
          attempt: event.attempt,
          approval: event.requiresApproval ? 'waiting' : 'not required',
          runs: [],
          reused: [],
          deviations: [],
          replan: null,
        });
        addSpend(spend, event.usage, event.costUsd);
        break;
      case 'plan-invalid':
        invalidAnswers.push(`revision ${event.revision} attempt ${event.attempt}: ${event.error.message}`);
        addSpend(spend, event.usage, event.costUsd);
        break;
      case 'plan-approval': {
        const revision = revisions.get(event.revision);
        if (revision === undefined) break;
        revision.approval = `${event.decision} by ${event.approver}${event.reason === null ? '' : ` (${event.reason})`}`;
        if (event.plan !== undefined) {
          revision.plan = event.plan;
          revision.goal = event.plan.goal;
          revision.steps = event.plan.steps.map((step) => step.id);
        }
        break;
      }
      case 'plan-step-start': {
        const revision = revisions.get(event.revision);
        if (revision === undefined) break;
        const dependsOn = revision.plan.steps.find((step) => step.id === event.stepId)?.dependsOn ?? [];
        runs.set(event.callId, { revision, index: revision.runs.length });
        revision.runs.push({ stepId: event.stepId, dependsOn, agent: event.agent, childSessionId: event.childSessionId, status: 'running', latencyMs: null, check: null, error: null });
        break;
      }
      case 'plan-step-end': {
        const run = runs.get(event.callId);
        const before = run?.revision.runs[run.index];
        if (run === undefined || before === undefined) break;
        run.revision.runs[run.index] = { ...before, status: event.status, latencyMs: event.latencyMs, error: event.error, check: { passed: event.check.passed, by: event.check.by, reason: event.check.reason } };
        addSpend(spend, event.check.usage, event.check.costUsd);
        break;
      }
      case 'plan-deviation':
        revisions.get(event.revision)?.deviations.push(`${event.kind} at ${event.stepId}: ${event.reason}`);
        break;
      case 'replan': {
        const revision = revisions.get(event.fromRevision);
        if (revision !== undefined) revision.replan = `replan ${event.replan} of ${event.maxReplans}: ${event.reason}`;
        break;
      }
      default:
        break;
    }
  }
  if (revisions.size === 0 && invalidAnswers.length === 0) return undefined;
  const list = [...revisions.values()].sort((left, right) => left.revision - right.revision);
  for (const revision of list) {
    const ran = new Set(revision.runs.map((run) => run.stepId));
    revision.reused = revision.steps.filter((id) => !ran.has(id) && list.some((earlier) => earlier.revision < revision.revision && earlier.runs.some((run) => run.stepId === id && run.status === 'completed' && run.check?.passed === true)));
  }
  return { revisions: list.map(({ plan: _plan, ...revision }) => revision), invalidAnswers, usage: spend.usage, costUsd: spend.costUsd };
}

function milliseconds(value: number | null): string {
  if (value === null) return '—';
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(value < 10 ? 2 : 0)} ms`;
}

/** The plan as an indented tree (for `keel trace`): revisions, their approval, each step run with its inputs and verdict. */
export function renderPlanTrace(plan: TracePlan): string[] {
  const lines: string[] = [];
  for (const invalid of plan.invalidAnswers) lines.push(`  invalid plan (${invalid})`);
  for (const revision of plan.revisions) {
    lines.push(`plan revision ${revision.revision}${revision.attempt > 1 ? ` (attempt ${revision.attempt})` : ''}: ${revision.goal}  [${revision.steps.length} steps; approval ${revision.approval}]`);
    for (const run of revision.runs) {
      const inputs = run.dependsOn.length === 0 ? '' : ` ← ${run.dependsOn.join(', ')}`;
      const outcome = run.status === 'running' ? 'no outcome recorded' : run.status === 'completed' ? (run.check?.passed === false ? 'MISSED its criterion' : 'ok') : `${run.status.toUpperCase()}${run.error === null ? '' : ` ${run.error.code}: ${run.error.message}`}`;
      const check = run.check === null || run.check.by === 'none' ? '' : `  check by ${run.check.by}: ${run.check.reason}`;
      lines.push(`  step ${run.stepId}${inputs}  agent=${run.agent}  ${milliseconds(run.latencyMs)}  ${outcome}${check}  (keel trace ${run.childSessionId})`);
    }
    if (revision.reused.length > 0) lines.push(`  reused from earlier revisions: ${revision.reused.join(', ')}`);
    for (const deviation of revision.deviations) lines.push(`  deviation: ${deviation}`);
    if (revision.replan !== null) lines.push(`  ${revision.replan}`);
  }
  return lines;
}
