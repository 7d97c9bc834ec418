import { foldEvents } from '../loop/session-state.ts';
import { PlanState, planView } from '../planner/index.ts';
import { deriveSessionStatus, pendingApprovalsOf } from '../runtime/session-status.ts';
import type { SessionEvent } from '../spec/events.ts';
import type { Journal } from '../spec/journal.ts';
import type { SessionLeaseStore } from '../spec/session-lease.ts';
import type { SessionView } from './api-schemas.ts';
import type { SessionHub } from './session-hub.ts';
import type { SessionOwner, SessionOwners } from './session-owners.ts';

export interface ViewSources {
  readonly journal: Journal;
  readonly hub: SessionHub;
  readonly owners: SessionOwners;
  /** The lease table, to tell a session another process runs from an interrupted one; absent for in-memory journals. */
  readonly leases: Pick<SessionLeaseStore, 'current'> | null;
  readonly now: () => number;
}

export async function readAllEvents(journal: Journal, sessionId: string): Promise<SessionEvent[]> {
  const events: SessionEvent[] = [];
  for await (const event of journal.read(sessionId)) events.push(event);
  return events;
}

/** What a person sees of a session, from its journal, its lease, and whether this process runs it. */
export async function viewSession(sources: ViewSources, owner: SessionOwner): Promise<SessionView> {
  const events = await readAllEvents(sources.journal, owner.sessionId);
  const base = {
    id: owner.sessionId,
    agent: owner.agent,
    tenant: owner.tenant,
    createdAt: owner.createdAt,
    priority: owner.priority,
    startedBy: owner.keyId,
  };
  const first = events[0];
  if (first === undefined) {
    return { ...base, status: sources.hub.active(owner.sessionId) === undefined ? 'interrupted' : 'running', updatedAt: owner.createdAt, durationMs: 0, lastSeq: 0, turns: 0, usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }, costUsd: null, output: null, error: null, pendingApprovals: [] };
  }
  const state = foldEvents(events);
  const last = events[events.length - 1] ?? first;
  let status: SessionView['status'];
  if (state.end !== null) {
    status = state.end.status;
    // Remembered for status filters; the journal stays the truth, so a failed write only costs a later re-read.
    if (owner.endedStatus === null) sources.owners.markEnded(owner.sessionId, state.end.status).catch(() => undefined);
  } else if (sources.hub.active(owner.sessionId) !== undefined) {
    status = 'running';
  } else {
    const lease = await sources.leases?.current(owner.sessionId);
    status = deriveSessionStatus({ state, lease, now: sources.now() }).status;
    if (status === 'interrupted' && waitsForPlanApproval(owner.sessionId, events)) status = 'waiting-approval';
  }
  const end = state.end;
  return {
    ...base,
    status,
    updatedAt: last.at,
    durationMs: Math.max(0, (end === null ? sources.now() : end.at) - first.at),
    lastSeq: last.seq,
    turns: end?.turns ?? state.turn,
    usage: end?.usage ?? state.usage,
    costUsd: end === null ? state.costUsd : end.costUsd,
    output: end?.output ?? null,
    error: end?.error === null || end?.error === undefined ? null : { code: end.error.code, message: end.error.message },
    pendingApprovals: status === 'waiting-approval' ? pendingApprovalsOf(state).map(({ callId, tool, input, rule, reason }) => ({ callId, tool, input, rule, reason })) : [],
  };
}

/** A planner session stopped at a plan that waits for a person (its tool calls wait for nobody). */
function waitsForPlanApproval(sessionId: string, events: readonly SessionEvent[]): boolean {
  if (!events.some((event) => event.type === 'plan-proposed')) return false;
  try {
    return planView(PlanState.of(events), sessionId).waitingForApproval;
  } catch {
    return false;
  }
}
