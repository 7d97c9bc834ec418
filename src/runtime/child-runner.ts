import { KeelError } from '../errors/index.ts';
import { childSessionId, delegatedScopes, resumeSession, startSession, TreeBudget } from '../loop/index.ts';
import type { AgentDefinition, ChildRunRequest, ChildSessionRunner, LoopDependencies, ModelCaller, RunOptions, SessionRun, SessionUpdate } from '../loop/index.ts';
import type { SessionEvent } from '../spec/events.ts';
import type { Journal } from '../spec/journal.ts';
import { runUnderLease } from './leased-run.ts';
import type { LeaseSettings } from './leased-run.ts';

/** What the runtime lends the child runner: leases, the journal, and how to build a session's model and dependencies. */
export interface ChildRunnerSettings {
  readonly leases: LeaseSettings;
  readonly journal: Journal;
  readonly now: () => number;
  /** The model a child runs with: the one its journal recorded when it exists, else the agent's or the runtime's default. */
  readonly callerFor: (agent: AgentDefinition, recordedSpec: string | undefined) => { readonly caller: ModelCaller; readonly spec: string | undefined };
  readonly dependencies: (caller: ModelCaller) => LoopDependencies;
  /** Adds the runtime's telemetry and call log observers to a run's options. */
  readonly observe: <T extends RunOptions>(options: T) => T;
}

/**
 * Child sessions under their own lease. A child's id is derived from its parent's session and call, so asking again
 * (a resumed parent) starts nothing new: an empty journal is started, an open one resumed, an ended one returns its
 * recorded outcome without a step. Two processes asking at once: the second is refused with `session-busy`.
 */
export function createChildRunner(settings: ChildRunnerSettings): ChildSessionRunner {
  return {
    run(request: ChildRunRequest): SessionRun {
      const sessionId = childSessionId(request.parentSessionId, request.callId);
      return deferredRun(sessionId, async () => {
        // Refused at delegation, before anything is written: wider scopes, or a larger budget than the parent's.
        const scopes = delegatedScopes(request.agent, request.heldScopes, request.parentSessionId);
        const agent: AgentDefinition = scopes.length === request.agent.scopes.length ? request.agent : { ...request.agent, scopes };
        const budget = request.budget === null ? (request.slice === null ? undefined : TreeBudget.root(sessionId, request.slice)) : request.budget.child(sessionId, request.slice);
        const base: RunOptions = settings.observe({
          ...(request.signal === undefined ? {} : { signal: request.signal }),
          ...(budget === undefined ? {} : { treeBudget: budget }),
        });
        const start = await firstEvent(settings.journal, sessionId);
        if (start !== null && start.type === 'session-start' && start.parentSessionId !== request.parentSessionId) {
          throw new KeelError('journal-corrupt', `Session ${sessionId} exists but is not a child of ${request.parentSessionId} (its parent is ${start.parentSessionId ?? 'none'}).`);
        }
        const recordedSpec = start?.type === 'session-start' ? start.model.spec : undefined;
        const { caller, spec } = settings.callerFor(agent, recordedSpec);
        const dependencies = settings.dependencies(caller);
        if (start !== null) return runUnderLease(settings.leases, sessionId, (leaseLost) => resumeSession(agent, dependencies, sessionId, { ...base, leaseLost }));
        const timeCap = request.timeMs === undefined ? null : settings.now() + request.timeMs;
        const deadlineCap = request.deadlineAt === null ? timeCap : timeCap === null ? request.deadlineAt : Math.min(request.deadlineAt, timeCap);
        return runUnderLease(settings.leases, sessionId, (leaseLost) =>
          startSession(agent, dependencies, {
            ...base,
            leaseLost,
            sessionId,
            input: request.task,
            parentSessionId: request.parentSessionId,
            deadlineCap,
            budget: request.slice,
            ...(request.agentModule === undefined ? {} : { agentModule: request.agentModule }),
            ...(spec === undefined ? {} : { modelSpec: spec }),
          }),
        );
      });
    },
  };
}

async function firstEvent(journal: Journal, sessionId: string): Promise<SessionEvent | null> {
  for await (const event of journal.read(sessionId)) return event;
  return null;
}

/** A run whose id is known at once and whose start waits for an asynchronous decision (start, resume, or refuse). */
function deferredRun(sessionId: string, begin: () => Promise<SessionRun>): SessionRun {
  const inner = begin();
  const result = inner.then((run) => run.result);
  result.catch(() => undefined);
  return {
    sessionId,
    result,
    async *[Symbol.asyncIterator](): AsyncIterator<SessionUpdate> {
      yield* await inner;
    },
  };
}
