import type { KeelError } from '../errors/index.ts';
import type { AgentDefinition, ApprovalDecision, SessionResult } from '../loop/index.ts';
import type { PlanDecision } from '../planner/index.ts';
import type { ServerContext } from './server-context.ts';
import type { SessionOwner } from './session-owners.ts';
import type { QueuedSessionState, SessionQueue } from './session-queue.ts';

/*
 * Sessions that `keel worker` processes run: the server records decisions and cancel requests in PostgreSQL and
 * wakes the workers; it never runs such a session itself, except to end one no worker holds when it is cancelled.
 */

/** How long a claim the server takes to end a cancelled session lasts; a worker takes over if the server dies. */
const cancelClaimTtlMs = 60_000;

/** The session's queue row when a worker runs it (or will), else undefined: the session is this process's concern. */
export async function queuedRow(context: ServerContext, sessionId: string): Promise<{ queue: SessionQueue; row: QueuedSessionState } | undefined> {
  const queue = context.queue;
  if (queue === null || context.hub.active(sessionId) !== undefined) return undefined;
  const row = await queue.status(sessionId);
  return row === undefined || row.state === 'done' ? undefined : { queue, row };
}

/** Journals a person's decision on a waiting call and wakes the session for the next free worker. */
export async function decideQueuedCall(context: ServerContext, queue: SessionQueue, request: { owner: SessionOwner; agent: AgentDefinition; callId: string; decision: ApprovalDecision }): Promise<void> {
  await context.keel.recordDecision(request.agent, request.owner.sessionId, request.callId, request.decision);
  await queue.wake(request.owner.sessionId);
  context.hub.notify(request.owner.sessionId);
}

/** Journals a person's decision on a waiting plan and wakes the session for the next free worker. */
export async function decideQueuedPlan(context: ServerContext, queue: SessionQueue, request: { owner: SessionOwner; agent: AgentDefinition; decision: PlanDecision }): Promise<void> {
  await context.keel.recordPlanDecision(request.agent, request.owner.sessionId, request.decision);
  await queue.wake(request.owner.sessionId);
  context.hub.notify(request.owner.sessionId);
}

/**
 * Cancels a queued session: the request is recorded and announced, so the worker holding the session aborts its run
 * (the model call and tools stop, compensations run, it ends `cancelled`). A session no worker holds is claimed here
 * and ended at once without a model call; if a worker wins that race, the recorded request cancels it there. Resolves
 * once the journal records the end, or after `waitMs`.
 */
export async function cancelQueued(context: ServerContext, queue: SessionQueue, request: { owner: SessionOwner; agent: AgentDefinition; reason: KeelError; waitMs: number }): Promise<void> {
  const sessionId = request.owner.sessionId;
  const marked = await queue.requestCancel({ sessionId, reason: request.reason.message });
  if (marked === undefined) return;
  const claimed = await queue.claimForCancel({ sessionId, worker: context.serverId, ttlMs: cancelClaimTtlMs });
  if (claimed?.claimId != null) await endHere(context, queue, { ...request, row: claimed, claimId: claimed.claimId });
  await untilEnded(context, sessionId, request.waitMs);
}

/** Runs the claimed session here with its cancel already signalled, which journals its end, and settles the claim. */
async function endHere(context: ServerContext, queue: SessionQueue, request: { owner: SessionOwner; agent: AgentDefinition; reason: KeelError; row: QueuedSessionState; claimId: number }): Promise<void> {
  const { owner } = request;
  const controller = new AbortController();
  controller.abort(request.reason);
  const common = { signal: controller.signal, priority: owner.priority, tenant: owner.tenant, onUpdate: () => context.hub.notify(owner.sessionId) };
  let result: SessionResult | null = null;
  try {
    const started = (await context.keel.journal.lastSeq(owner.sessionId)) > 0
      ? await context.keel.resume(request.agent, owner.sessionId, common)
      : context.keel.run(request.agent, { ...common, sessionId: owner.sessionId, ...(request.row.task === null ? {} : { task: request.row.task }) });
    result = await started.result;
  } catch (error) {
    context.logger.warn({ sessionId: owner.sessionId, err: error }, 'could not end a cancelled queued session here; a worker ends it');
  }
  const settlement = result !== null && result.status !== 'awaiting-approval'
    ? ({ kind: 'ended', status: result.status } as const)
    : ({ kind: 'retry', outcome: 'handed-off', delayMs: 0, error: null } as const);
  await queue.settle({ sessionId: owner.sessionId, claimId: request.claimId }, settlement);
  context.hub.notify(owner.sessionId);
}

/** Waits until the session's journal ends (woken by workers' announcements, else polling), or `waitMs` passes. */
async function untilEnded(context: ServerContext, sessionId: string, waitMs: number): Promise<void> {
  const deadline = context.now() + waitMs;
  const never = new AbortController().signal;
  for (;;) {
    const version = context.hub.version(sessionId);
    if (await hasEnded(context, sessionId)) return;
    const left = deadline - context.now();
    if (left <= 0) return;
    await context.hub.wait(sessionId, version, Math.min(left, context.pollMs), never);
  }
}

async function hasEnded(context: ServerContext, sessionId: string): Promise<boolean> {
  const lastSeq = await context.keel.journal.lastSeq(sessionId);
  if (lastSeq < 1) return false;
  for await (const event of context.keel.journal.read(sessionId, lastSeq)) return event.type === 'session-end';
  return false;
}
