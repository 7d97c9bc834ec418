import { KeelError, toKeelError } from '../errors/index.ts';
import { linkedSignal } from '../util/index.ts';
import { UpdateQueue } from '../loop/update-queue.ts';
import type { AgentDefinition, PendingApproval, RunOptions, SessionResult, SessionRun, SessionUpdate } from '../loop/index.ts';
import type { ResolvedPlannerOptions } from '../loop/planner-options.ts';
import type { EventBody, SessionBudget, SessionEvent } from '../spec/events.ts';
import { executePlan } from './execute-plan.ts';
import { PlanState } from './plan-state.ts';
import type { PlanRevision } from './plan-state.ts';
import { PlanWriter } from './plan-writer.ts';
import type { PlannerContext, PlannerServices } from './planner-context.ts';
import { checkBudget, proposePlan } from './propose-plan.ts';

/** A planner run's options: the agent's run options, and how a new session is recorded. */
export interface PlannerRunOptions extends RunOptions {
  /** Recorded in session-start (and each step's child) so the CLI can load the agent again. */
  readonly agentModule?: string;
}

export interface PlannerStartOptions extends PlannerRunOptions {
  readonly sessionId: string;
  readonly input: string;
  readonly modelSpec?: string;
  readonly budget?: SessionBudget | null;
  /** A deadline (epoch ms) the session's may not pass: the run's time budget. */
  readonly deadlineCap?: number | null;
}

function plannerOf(agent: AgentDefinition): ResolvedPlannerOptions {
  if (agent.planner === undefined) throw new KeelError('invalid-argument', `Agent "${agent.name}" is not a planner; define it with defineAgent({ planner: true }).`);
  return agent.planner;
}

/** Starts a planner session: `session-start`, the plan, its approval when required, then the steps. */
export function startPlanner(agent: AgentDefinition, services: PlannerServices, options: PlannerStartOptions): SessionRun {
  const planner = plannerOf(agent);
  return launch(options.sessionId, options, async (onEvent) => {
    const state = new PlanState();
    const writer = new PlanWriter({ sessionId: options.sessionId, journal: services.journal, clock: services.clock, state, onEvent, ...lease(options) });
    const now = services.clock.now();
    const own = agent.limits.deadlineMs === null ? null : now + agent.limits.deadlineMs;
    const cap = options.deadlineCap ?? null;
    const deadlineAt = own === null ? cap : cap === null ? own : Math.min(own, cap);
    await writer.append([
      {
        type: 'session-start',
        agent: {
          name: agent.name,
          instructionsHash: agent.instructionsHash,
          tools: [...agent.tools.keys()],
          ...(options.agentModule === undefined ? {} : { module: options.agentModule }),
          ...(agent.description === undefined ? {} : { description: agent.description }),
          ...(agent.version === undefined ? {} : { version: agent.version }),
        },
        model: { provider: services.caller.provider, modelId: services.caller.modelId, ...(options.modelSpec === undefined ? {} : { spec: options.modelSpec }) },
        input: options.input,
        limits: { ...agent.limits, deadlineAt },
        ...(options.budget == null ? {} : { budget: options.budget }),
      },
    ]);
    return { agent, options: planner, task: options.input, writer, services, deadlineAt, ledger: options.treeBudget ?? null, ...module(options) };
  });
}

/**
 * Continues a planner session from its journal: a plan without an outcome is planned again (a journaled invalid answer
 * goes straight to its retry), an approved plan runs, finished steps are never run again, and a step that was running
 * resumes its child session. An ended session returns its recorded outcome.
 */
export function resumePlanner(agent: AgentDefinition, services: PlannerServices, sessionId: string, options: PlannerRunOptions = {}): SessionRun {
  const planner = plannerOf(agent);
  return launch(sessionId, options, async (onEvent) => {
    const events: SessionEvent[] = [];
    for await (const event of services.journal.read(sessionId)) events.push(event);
    const state = PlanState.of(events);
    if (state.start === null) throw new KeelError('session-not-found', `No session ${sessionId} in this journal; list sessions with \`keel sessions\`.`);
    if (state.start.agent.name !== agent.name) {
      throw new KeelError('invalid-argument', `Session ${sessionId} was run by agent "${state.start.agent.name}", not "${agent.name}"; resume it with its own agent.`);
    }
    const writer = new PlanWriter({ sessionId, journal: services.journal, clock: services.clock, state, onEvent, ...lease(options) });
    // Spend journaled before this process: the ledger of a resumed tree starts from it.
    const spent = state.spent();
    options.treeBudget?.preload(spent.usage, spent.costUsd);
    return { agent, options: planner, task: state.start.input, writer, services, deadlineAt: state.start.limits.deadlineAt, ledger: options.treeBudget ?? null, ...module(options, state.start.agent.module) };
  });
}

function lease(options: RunOptions): { leaseLost?: AbortSignal } {
  return options.leaseLost === undefined ? {} : { leaseLost: options.leaseLost };
}

function module(options: PlannerRunOptions, recorded?: string): { agentModule?: string } {
  const agentModule = options.agentModule ?? recorded;
  return agentModule === undefined ? {} : { agentModule };
}

type Prepared = Omit<PlannerContext, 'signal'>;

/** A run whose updates stream as the journal is written and whose result settles when the session ends or waits. */
function launch(sessionId: string, options: RunOptions, prepare: (onEvent: (event: SessionEvent) => void) => Promise<Prepared>): SessionRun {
  const updates = new UpdateQueue<SessionUpdate>();
  const onEvent = (event: SessionEvent): void => {
    const update: SessionUpdate = { type: 'event', event };
    options.onUpdate?.(update);
    updates.push(update);
  };
  const result = (async (): Promise<SessionResult> => {
    const prepared = await prepare(onEvent);
    const remaining = prepared.deadlineAt === null ? undefined : Math.max(0, prepared.deadlineAt - prepared.services.clock.now());
    const linked = linkedSignal([options.signal], remaining, () => new KeelError('deadline-exceeded', `Planner session ${sessionId} passed its deadline (${new Date(prepared.deadlineAt ?? 0).toISOString()}).`));
    try {
      return await drive({ ...prepared, signal: linked.signal });
    } finally {
      linked.dispose();
    }
  })();
  result.then(
    () => updates.close(),
    (error: unknown) => updates.close(error),
  );
  result.catch(() => undefined);
  return { sessionId, result, [Symbol.asyncIterator]: () => updates[Symbol.asyncIterator]() };
}

/**
 * The planner's loop, decided from the journal's fold at every pass: plan when the revision needed has no plan, wait
 * for a person when the plan needs one, run the graph, then end, or replan after a deviation while replans are left.
 */
async function drive(context: PlannerContext): Promise<SessionResult> {
  const state = context.writer.state;
  try {
    for (;;) {
      if (state.end !== null) return recordedResult(context);
      if (context.signal.aborted) return await end(context, 'cancelled', null, toKeelError(context.signal.reason, 'cancelled'));
      if (state.needsPlan) {
        const proposal = await proposePlan(context);
        if (!proposal.ok) return await end(context, 'failed', null, proposal.error);
        continue;
      }
      const revision = state.current;
      if (revision === null) throw new KeelError('internal', `Planner session ${context.writer.sessionId} has no plan after planning.`);
      if (revision.proposed.requiresApproval && revision.approval === null) return waiting(context, [planApproval(context, revision)]);
      if (revision.approval?.decision === 'rejected') {
        return await end(context, 'failed', null, new KeelError('approval-rejected', `${revision.approval.approver} rejected plan revision ${revision.revision}${revision.approval.reason === null ? '' : `: ${revision.approval.reason}`}.`));
      }
      const outcome = await executePlan(context, revision);
      switch (outcome.kind) {
        case 'completed':
          return await end(context, 'completed', outcome.output, null);
        case 'suspended':
          return waiting(context, outcome.approvals);
        case 'cancelled':
          return await end(context, 'cancelled', null, toKeelError(context.signal.reason ?? new KeelError('cancelled', 'A step was cancelled.'), 'cancelled'));
        case 'deviated': {
          const reason = outcome.deviations.map((deviation) => deviation.reason).join(' ');
          const used = state.replans.length;
          const { maxReplans } = context.options;
          if (used >= maxReplans) {
            const message = `The plan deviated (${reason}) and the planner already replanned ${used} time${used === 1 ? '' : 's'}, its limit (maxReplans ${maxReplans}).`;
            return await end(context, 'failed', null, new KeelError('guard-tripped', message, { details: { guard: 'max-replans', limit: maxReplans, actual: used } }));
          }
          const completed = [...state.passedResults().keys()];
          await context.writer.append([{ type: 'replan', fromRevision: revision.revision, reason, completed, replan: used + 1, maxReplans }]);
          checkBudget(context);
          break;
        }
      }
    }
  } catch (thrown) {
    // A journal that cannot be written (or a lost lease) is not an outcome: the writer refuses every later append.
    const error = toKeelError(thrown, 'internal');
    if (['journal-conflict', 'journal-corrupt', 'storage-failure', 'session-busy'].includes(error.code) || state.end !== null) throw thrown;
    const status = context.signal.aborted ? 'cancelled' : 'failed';
    return end(context, status, null, context.signal.aborted ? toKeelError(context.signal.reason, 'cancelled') : error);
  }
}

/** The plan waiting for a person, as a pending approval (`keel plan approve` answers it). */
export function planApproval(context: PlannerContext, revision: PlanRevision): PendingApproval {
  const sessionId = context.writer.sessionId;
  return {
    callId: `plan-r${revision.revision}`,
    tool: 'plan',
    input: context.writer.state.planOf(revision),
    rule: 'planner:approval',
    reason: `Plan revision ${revision.revision} waits for approval: \`keel plan show ${sessionId}\`, then \`keel plan approve ${sessionId}\` (optionally --edit FILE) or \`keel plan reject ${sessionId} --reason ...\`.`,
  };
}

function waiting(context: PlannerContext, approvals: readonly PendingApproval[]): SessionResult {
  const spent = context.writer.state.spent();
  return { sessionId: context.writer.sessionId, status: 'awaiting-approval', pendingApprovals: approvals, output: null, error: null, turns: 0, usage: spent.usage, costUsd: spent.costUsd };
}

async function end(context: PlannerContext, status: 'completed' | 'failed' | 'cancelled', output: string | null, error: KeelError | null): Promise<SessionResult> {
  const spent = context.writer.state.spent();
  const body: EventBody = { type: 'session-end', status, output, error: error === null ? null : error.toRecord(), turns: 0, usage: spent.usage, costUsd: spent.costUsd };
  await context.writer.append([body]);
  return recordedResult(context);
}

function recordedResult(context: PlannerContext): SessionResult {
  const ended = context.writer.state.end;
  if (ended === null) throw new KeelError('internal', `Session ${context.writer.sessionId} has no session-end.`);
  return { sessionId: context.writer.sessionId, status: ended.status, pendingApprovals: [], output: ended.output, error: ended.error, turns: 0, usage: ended.usage, costUsd: ended.costUsd };
}

