import { KeelError } from '../errors/index.ts';
import type { AgentDefinition, PendingApproval } from '../loop/index.ts';
import { currentEventVersion } from '../spec/events.ts';
import type { EventBody, PlanRecord, SessionEvent } from '../spec/events.ts';
import type { Clock } from '../spec/clock.ts';
import type { Journal } from '../spec/journal.ts';
import { validatePlan } from './plan-schema.ts';
import { PlanState } from './plan-state.ts';

/** A person's answer to a plan that waits for approval. */
export interface PlanDecision {
  readonly approved: boolean;
  /** Who decided, for the audit trail. */
  readonly approver: string;
  readonly reason?: string;
  /** The plan to run instead of the proposed one (same shape); validated like a proposed plan before it is journaled. */
  readonly editedPlan?: unknown;
}

/** The plan a session's planner would run next and whether it waits for a person: what `keel plan show` prints. */
export interface PlanView {
  readonly sessionId: string;
  readonly revision: number;
  readonly plan: PlanRecord;
  readonly waitingForApproval: boolean;
  readonly state: PlanState;
}

/** Reads a planner session's journal into its fold; a session that is not a planner's is an `invalid-argument` error. */
export async function readPlanState(journal: Journal, sessionId: string): Promise<PlanState> {
  const events: SessionEvent[] = [];
  for await (const event of journal.read(sessionId)) events.push(event);
  if (events.length === 0) throw new KeelError('session-not-found', `No session ${sessionId}; list sessions with \`keel sessions\`.`);
  return PlanState.of(events);
}

/** The current plan of a planner session, or an error saying why there is none. */
export function planView(state: PlanState, sessionId: string): PlanView {
  const revision = state.current;
  if (revision === null) {
    throw new KeelError('invalid-argument', `Session ${sessionId} has no plan${state.invalid.size > 0 ? ' (its planning answers were invalid)' : ''}; is it a planner session (defineAgent({ planner }))?`);
  }
  const waitingForApproval = state.end === null && revision.proposed.requiresApproval && revision.approval === null;
  return { sessionId, revision: revision.revision, plan: state.planOf(revision), waitingForApproval, state };
}

/**
 * Journals a person's decision on the plan that waits: `approved`, `edited` (the edited plan validated against the
 * agent's tools, subagents and limits first), or `rejected`, which ends the session with `approval-rejected` in the
 * same append. The append is optimistic: if the session moved on meanwhile the decision is refused, never applied to
 * the wrong plan. The caller resumes the session after an approval.
 */
export async function recordPlanDecision(journal: Journal, clock: Clock, agent: AgentDefinition, sessionId: string, decision: PlanDecision): Promise<void> {
  if (agent.planner === undefined) throw new KeelError('invalid-argument', `Agent "${agent.name}" is not a planner; define it with defineAgent({ planner: true }).`);
  if (decision.approver.trim() === '') throw new KeelError('invalid-argument', 'A plan decision needs the name of the approver.');
  const state = await readPlanState(journal, sessionId);
  if (state.end !== null) throw new KeelError('session-finished', `Session ${sessionId} has already ended (${state.end.status}).`);
  const view = planView(state, sessionId);
  if (!view.waitingForApproval) throw new KeelError('approval-not-pending', `Session ${sessionId}: plan revision ${view.revision} is not waiting for approval.`);
  const bodies: EventBody[] = [];
  if (!decision.approved) {
    bodies.push({ type: 'plan-approval', revision: view.revision, decision: 'rejected', approver: decision.approver, reason: decision.reason ?? null });
    const spent = state.spent();
    const message = `${decision.approver} rejected plan revision ${view.revision}${decision.reason === undefined ? '' : `: ${decision.reason}`}.`;
    bodies.push({ type: 'session-end', status: 'failed', output: null, error: new KeelError('approval-rejected', message).toRecord(), turns: 0, usage: spent.usage, costUsd: spent.costUsd });
  } else if (decision.editedPlan !== undefined) {
    const validation = validatePlan(decision.editedPlan, { agent, options: agent.planner });
    if (!validation.ok) throw new KeelError('invalid-argument', `The edited plan is invalid: ${validation.problems.join('; ')}.`, { details: { problems: [...validation.problems] } });
    bodies.push({ type: 'plan-approval', revision: view.revision, decision: 'edited', approver: decision.approver, reason: decision.reason ?? null, plan: validation.plan });
  } else {
    bodies.push({ type: 'plan-approval', revision: view.revision, decision: 'approved', approver: decision.approver, reason: decision.reason ?? null });
  }
  const at = clock.now();
  const stamped = bodies.map((body, index) => ({ ...body, v: currentEventVersion, sessionId, seq: state.lastSeq + index + 1, at }) as SessionEvent);
  await journal.append(sessionId, stamped, state.lastSeq);
}

/**
 * The plan a session waits on a person for, as a pending approval, or null: what status views list next to waiting
 * tool calls. A session that is not a planner's has no plan and waits for none.
 */
export function waitingPlanApproval(events: readonly SessionEvent[]): PendingApproval | null {
  if (!events.some((event) => event.type === 'plan-proposed')) return null;
  const state = PlanState.of(events);
  const revision = state.current;
  if (state.end !== null || revision === null || !revision.proposed.requiresApproval || revision.approval !== null) return null;
  const sessionId = events[0]?.sessionId ?? '';
  return {
    callId: `plan-r${revision.revision}`,
    tool: 'plan',
    input: state.planOf(revision),
    rule: 'planner:approval',
    reason: `Plan revision ${revision.revision} waits for approval: \`keel plan show ${sessionId}\`, then \`keel plan approve ${sessionId}\` or \`keel plan reject ${sessionId} --reason ...\`.`,
  };
}

/**
 * Whether a planner session is stopped at a plan that waits for a person (its tool calls wait for nobody); a journal
 * whose plan events cannot be folded counts as not waiting.
 */
export function waitsForPlanDecision(sessionId: string, events: readonly SessionEvent[]): boolean {
  if (!events.some((event) => event.type === 'plan-proposed')) return false;
  try {
    return planView(PlanState.of(events), sessionId).waitingForApproval;
  } catch {
    return false;
  }
}
