import { foldEvents } from '../loop/session-state.ts';
import { waitsForPlanDecision } from '../planner/index.ts';
import { deriveSessionStatus, pendingApprovalsOf } from '../runtime/session-status.ts';
import type { SessionEvent } from '../spec/events.ts';
import type { Journal } from '../spec/journal.ts';
import type { SessionLeaseStore } from '../spec/session-lease.ts';
import type { SessionView } from './api-schemas.ts';
import type { SessionHub } from './session-hub.ts';
import type { SessionOwner, SessionOwners } from './session-owners.ts';
import type { QueuedSessionState, SessionQueue } from './session-queue.ts';

export interface ViewSources {
  readonly journal: Journal;
  readonly hub: SessionHub;
  readonly owners: SessionOwners;
  /** The lease table, to tell a session another process runs from an interrupted one; absent for in-memory journals. */
  readonly leases: Pick<SessionLeaseStore, 'current'> | null;
  /** The workers' run queue: where a queued session stands while its journal has not ended. */
  readonly queue: Pick<SessionQueue, 'status'> | null;
  readonly now: () => number;
}

/** What the queue row says of a session whose journal has not ended; undefined when the queue has no say. */
function queueStatus(row: QueuedSessionState | undefined, now: number): SessionView['status'] | undefined {
  if (row === undefined) return undefined;
  switch (row.state) {
    case 'queued':
      return 'queued';
    case 'claimed':
      // An expired claim is a worker that died: the next worker to claim the session resumes it.
      return row.claimExpiresAt !== null && row.claimExpiresAt >= now ? 'running' : 'queued';
    case 'waiting-approval':
      return 'waiting-approval';
    case 'failed':
      return 'failed';
    case 'done':
      return undefined;
  }
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
  const running = sources.hub.active(owner.sessionId) !== undefined;
  const row = running || (first !== undefined && events[events.length - 1]?.type === 'session-end') ? undefined : await sources.queue?.status(owner.sessionId);
  const queued = queueStatus(row, sources.now());
  const queueError = queued === 'failed' && row?.lastError != null ? { code: row.lastError.code, message: row.lastError.message } : null;
  if (first === undefined) {
    return { ...base, status: running ? 'running' : (queued ?? 'interrupted'), updatedAt: owner.createdAt, durationMs: 0, lastSeq: 0, turns: 0, usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }, costUsd: null, output: null, error: queueError, pendingApprovals: [] };
  }
  const state = foldEvents(events);
  const last = events[events.length - 1] ?? first;
  let status: SessionView['status'];
  if (state.end !== null) {
    status = state.end.status;
    // Remembered for status filters; the journal stays the truth, so a failed write only costs a later re-read.
    if (owner.endedStatus === null) sources.owners.markEnded(owner.sessionId, state.end.status).catch(() => undefined);
  } else if (running) {
    status = 'running';
  } else if (queued !== undefined) {
    status = queued;
  } else {
    const lease = await sources.leases?.current(owner.sessionId);
    status = deriveSessionStatus({ state, lease, now: sources.now() }).status;
    if (status === 'interrupted' && waitsForPlanDecision(owner.sessionId, events)) status = 'waiting-approval';
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
    error: end?.error === null || end?.error === undefined ? queueError : { code: end.error.code, message: end.error.message },
    pendingApprovals: status === 'waiting-approval' ? pendingApprovalsOf(state).map(({ callId, tool, input, rule, reason }) => ({ callId, tool, input, rule, reason })) : [],
  };
}
