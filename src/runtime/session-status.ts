// The fold itself, not the loop's index: listing sessions must not load the model providers and tools.
import { foldEvents } from '../loop/session-state.ts';
import { waitingPlanApproval } from '../planner/plan-decision.ts';
import type { SessionState } from '../loop/session-state.ts';
import type { PendingApproval } from '../loop/loop-types.ts';
import type { SessionEvent, SessionStatus } from '../spec/events.ts';
import type { Journal, SessionSummary } from '../spec/journal.ts';
import type { SessionLeaseRecord, SessionLeaseStore } from '../spec/session-lease.ts';

/**
 * What a person needs to know about a session, derived from its journal and its lease:
 * - `running`: a process holds a live lease on it;
 * - `waiting-approval`: it stopped at calls that wait for a person (`keel approve` / `keel reject`);
 * - `interrupted`: it has not ended, waits for nobody, and no process holds it (a crash): `keel resume` continues it;
 * - `completed`, `failed`, `cancelled`: it ended.
 */
export type DerivedSessionStatus = 'running' | 'waiting-approval' | 'interrupted' | SessionStatus;

export const derivedSessionStatuses: readonly DerivedSessionStatus[] = ['running', 'waiting-approval', 'interrupted', 'completed', 'failed', 'cancelled'];

export interface SessionStatusView {
  readonly status: DerivedSessionStatus;
  /** The calls waiting for a person; empty unless `waiting-approval`. */
  readonly waiting: readonly PendingApproval[];
  /** The lease considered, when a lease store was available. */
  readonly lease: SessionLeaseRecord | undefined;
}

export interface SessionStatusFacts {
  /** The folded journal of the session. */
  readonly state: SessionState;
  /** Its lease, expired or not; undefined when none is held or no lease store exists. */
  readonly lease: SessionLeaseRecord | undefined;
  /** Epoch milliseconds, to tell a live lease from an expired one. */
  readonly now: number;
  /** A planner session's plan waiting for a person (`waitingPlanApproval`), when it has one. */
  readonly plan?: PendingApproval | null;
}

/** The one place the status shown to people is decided; every command that shows a status goes through it. */
export function deriveSessionStatus(facts: SessionStatusFacts): SessionStatusView {
  const { state, lease, now } = facts;
  if (state.end !== null) return { status: state.end.status, waiting: [], lease };
  // A live lease wins over waiting calls: a process that holds it is applying a decision right now.
  if (lease !== undefined && lease.expiresAt > now) return { status: 'running', waiting: [], lease };
  const waiting = [...pendingApprovalsOf(state), ...(facts.plan == null ? [] : [facts.plan])];
  if (waiting.length > 0) return { status: 'waiting-approval', waiting, lease };
  return { status: 'interrupted', waiting: [], lease };
}

/** Calls of the current turn that the policy sent to a person and that nobody has answered yet. */
export function pendingApprovalsOf(state: SessionState): PendingApproval[] {
  return [...state.toolCalls.values()]
    .filter((call) => call.outcome === null && call.decision?.decision === 'ask' && call.approval === null)
    .map((call) => ({ callId: call.request.callId, tool: call.request.tool, input: call.request.input, rule: call.decision?.rule ?? '', reason: call.decision?.reason ?? '' }));
}

export interface SessionStatusSources {
  readonly journal: Journal;
  /** Absent when the store keeps no leases; then a session that has not ended and waits for nobody is `interrupted`. */
  readonly leases?: Pick<SessionLeaseStore, 'current'> | undefined;
  readonly now: () => number;
}

/** The status of a session whose events are already read. */
export async function statusFromEvents(sources: SessionStatusSources, events: readonly SessionEvent[]): Promise<SessionStatusView> {
  const state = foldEvents(events);
  if (state.end !== null) return { status: state.end.status, waiting: [], lease: undefined };
  const lease = await sources.leases?.current(state.sessionId);
  return deriveSessionStatus({ state, lease, now: sources.now(), plan: waitingPlanApproval(events) });
}

/** The status of a listed session: an ended one is known from the summary, an open one needs its journal and lease. */
export async function statusOfSummary(sources: SessionStatusSources, summary: SessionSummary): Promise<SessionStatusView> {
  if (summary.status !== null) return { status: summary.status, waiting: [], lease: undefined };
  const events: SessionEvent[] = [];
  for await (const event of sources.journal.read(summary.sessionId)) events.push(event);
  return statusFromEvents(sources, events);
}
