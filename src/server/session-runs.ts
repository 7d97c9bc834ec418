import { KeelError } from '../errors/index.ts';
import type { SessionRun, SessionUpdate } from '../loop/index.ts';
import { createId } from '../util/index.ts';
import type { ApiPrincipal } from './api-keys.ts';
import type { StartSessionBody } from './api-schemas.ts';
import { agentOf, approverOf } from './server-context.ts';
import type { ServerContext } from './server-context.ts';
import type { SessionOwner } from './session-owners.ts';
import { cancelQueued, decideQueuedCall, queuedRow } from './queued-sessions.ts';

const endedStatuses = new Set(['completed', 'failed', 'cancelled']);

/** How long `cancel` waits for the session to record its end (calls in flight get their grace period first). */
const cancelWaitMs = 60_000;

/** Runs a session here under the hub: streams wake on each journaled event, and `cancel` can abort it. */
export function trackRun(context: ServerContext, sessionId: string, controller: AbortController, run: SessionRun): void {
  const done = run.result.then(
    (result) => {
      if (endedStatuses.has(result.status)) {
        context.owners.markEnded(sessionId, result.status as 'completed' | 'failed' | 'cancelled').catch((error: unknown) => context.logger.warn({ sessionId, err: error }, 'could not record the end of a session in the server tables'));
      }
      return result;
    },
    (error: unknown) => {
      context.logger.error({ sessionId, err: error }, 'session run failed without a result');
      return null;
    },
  );
  context.hub.track(sessionId, { controller, done });
}

/** Wakes the session's event streams on each journaled event. */
export function runNotifier(context: ServerContext, sessionId: string): (update: SessionUpdate) => void {
  return (update) => {
    if (update.type === 'event') context.hub.notify(sessionId);
  };
}

/** Starts a session (here, or on the workers' queue) and returns once its first event is journaled. */
export async function startSession(context: ServerContext, principal: ApiPrincipal, body: StartSessionBody, signal: AbortSignal): Promise<SessionOwner> {
  const agent = context.agents.get(body.agent);
  if (agent === undefined) {
    const names = [...context.agents.keys()].sort();
    throw new KeelError('invalid-argument', `No agent named "${body.agent}" on this server; it has: ${names.length === 0 ? 'none (start it with --agents <folder>)' : names.join(', ')}.`);
  }
  const sessionId = createId('ses', context.now());
  const priority = body.priority ?? 'interactive';
  const owner = { sessionId, tenant: principal.tenant, agent: agent.name, keyId: principal.keyId, priority, createdAt: context.now() } as const;
  if ((body.mode ?? context.defaultMode) === 'queue') {
    if (context.queue === null) throw new KeelError('invalid-argument', 'This server has no worker queue (start it with `keel serve --queue`); start the session with mode "in-process" (the default).');
    // Owned before it is queued: a worker may start it at once, and its stream must already be visible to the tenant.
    await context.owners.record(owner);
    await context.queue.enqueue({ sessionId, agent: agent.name, task: body.task, tenant: principal.tenant, priority, ...(body.budget === undefined ? {} : { budget: body.budget }) });
    return { ...owner, endedStatus: null };
  }
  const controller = new AbortController();
  const run = context.keel.run(agent, {
    task: body.task,
    sessionId,
    signal: controller.signal,
    priority,
    tenant: principal.tenant,
    ...(body.budget === undefined ? {} : { budget: body.budget }),
    onUpdate: runNotifier(context, sessionId),
  });
  trackRun(context, sessionId, controller, run);
  await firstEvent(context, sessionId, run, signal);
  await context.owners.record(owner);
  return { ...owner, endedStatus: null };
}

/** Waits until the session's first event is journaled; a run that fails before that fails the request with its error. */
async function firstEvent(context: ServerContext, sessionId: string, run: SessionRun, signal: AbortSignal): Promise<void> {
  let settled = false;
  const outcome = run.result.then(
    () => {
      settled = true;
      return null;
    },
    (error: unknown) => {
      settled = true;
      return error;
    },
  );
  for (;;) {
    const version = context.hub.version(sessionId);
    if ((await context.keel.journal.lastSeq(sessionId)) > 0) return;
    if (settled) {
      const error = await outcome;
      throw error ?? new KeelError('internal', `Session ${sessionId} ended without journaling anything.`);
    }
    await Promise.race([context.hub.wait(sessionId, version, 1_000, signal), outcome]);
  }
}

/**
 * Cancels a session: a run here is aborted (the model call and tools stop, compensations run, it ends `cancelled`);
 * one that waits for approval or was interrupted is resumed already cancelled, which records the same end.
 */
export async function cancelSession(context: ServerContext, principal: ApiPrincipal, owner: SessionOwner, status: string): Promise<void> {
  const reason = new KeelError('cancelled', `Cancelled through the API with key ${principal.keyId}.`);
  let active = context.hub.active(owner.sessionId);
  if (active === undefined) {
    if (endedStatuses.has(status)) throw new KeelError('session-finished', `Session ${owner.sessionId} has already ended (${status}); there is nothing to cancel.`);
    const queued = await queuedRow(context, owner.sessionId);
    if (queued !== undefined) {
      await cancelQueued(context, queued.queue, { owner, agent: agentOf(context, owner), reason, waitMs: cancelWaitMs });
      return;
    }
    if (status === 'running') throw new KeelError('session-busy', `Session ${owner.sessionId} is running in another process (a worker); cancel it there, or wait for it to stop.`);
    const controller = new AbortController();
    controller.abort(reason);
    const run = await context.keel.resume(agentOf(context, owner), owner.sessionId, { signal: controller.signal, priority: owner.priority, tenant: owner.tenant, onUpdate: runNotifier(context, owner.sessionId) });
    trackRun(context, owner.sessionId, controller, run);
    active = context.hub.active(owner.sessionId);
  } else {
    active.controller.abort(reason);
  }
  if (active === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([active.done, new Promise((resolve) => (timer = setTimeout(resolve, cancelWaitMs)))]);
  clearTimeout(timer);
}

/** Journals a person's decision on a waiting call, then resumes the session here. */
export async function decideCall(context: ServerContext, principal: ApiPrincipal, owner: SessionOwner, callId: string, decision: { approved: boolean; reason?: string | undefined; editedInput?: unknown }): Promise<void> {
  if (context.hub.active(owner.sessionId) !== undefined) {
    throw new KeelError('session-busy', `Session ${owner.sessionId} is running; a decision applies only to a session that waits for approval.`);
  }
  const agent = agentOf(context, owner);
  const approval = {
    approved: decision.approved,
    approver: approverOf(principal),
    ...(decision.reason === undefined ? {} : { reason: decision.reason }),
    ...(decision.editedInput === undefined ? {} : { editedInput: decision.editedInput }),
  };
  const queued = await queuedRow(context, owner.sessionId);
  if (queued !== undefined) {
    await decideQueuedCall(context, queued.queue, { owner, agent, callId, decision: approval });
    return;
  }
  const controller = new AbortController();
  const run = await context.keel.decide(agent, owner.sessionId, callId, approval, { signal: controller.signal, priority: owner.priority, tenant: owner.tenant, onUpdate: runNotifier(context, owner.sessionId) });
  trackRun(context, owner.sessionId, controller, run);
  context.hub.notify(owner.sessionId);
}
