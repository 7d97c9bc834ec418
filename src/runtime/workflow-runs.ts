import { KeelError } from '../errors/index.ts';
import { createId } from '../util/index.ts';
import { costOf } from '../model/index.ts';
import type { ChildSessionRunner, ModelCaller, SessionResult, SessionUpdate } from '../loop/index.ts';
import type { Clock } from '../spec/clock.ts';
import type { SessionEvent } from '../spec/events.ts';
import type { BlobStore, Journal } from '../spec/journal.ts';
import type { Model } from '../spec/model.ts';
import { ResourceLocks, resumeWorkflow, startWorkflow } from '../workflow/index.ts';
import type { AgentRunRequest, WorkflowResult, WorkflowRun, WorkflowServices, WorkflowStep } from '../workflow/index.ts';
import { acquireSessionLease, keepRenewing } from './leased-run.ts';
import type { LeaseSettings } from './leased-run.ts';

/** Options of `keel.runWorkflow`. */
export interface KeelWorkflowOptions {
  readonly sessionId?: string;
  /** Cancels the run: running steps, branches and child sessions are cancelled; the session ends `cancelled`. */
  readonly signal?: AbortSignal;
  /** The whole run's budget: tokens (input + output + cache) and cost across every step and child session, and a deadline from the start. */
  readonly budget?: { readonly tokens?: number; readonly costUsd?: number; readonly deadlineMs?: number };
  /** The model of model steps that name none: a registered name or a provider spec (recorded for resume). */
  readonly model?: string;
  /**
   * The tool scopes the workflow grants its agent steps. An agent step whose agent declares a scope outside them is
   * refused when it is delegated. By default each agent step holds the scopes its agent declares.
   */
  readonly scopes?: readonly string[];
  /** Called for each event of the workflow's own journal as it is written. */
  readonly onEvent?: (event: SessionEvent) => void;
}

/** Options of `keel.resumeWorkflow`: the model defaults to the one the run recorded. */
export type KeelWorkflowResumeOptions = Omit<KeelWorkflowOptions, 'sessionId' | 'budget'>;

export interface WorkflowRuntimeSettings {
  readonly leases: LeaseSettings;
  readonly journal: Journal;
  readonly blobs: BlobStore;
  readonly clock: Clock;
  readonly children: ChildSessionRunner;
  /** The runtime's telemetry and call-log observers, when any is on. */
  readonly observe?: ((update: SessionUpdate) => void) | undefined;
  /** Resolves a model like an agent's: a registered name or a spec, else the runtime's default. */
  readonly model: (choice: string | Model | undefined) => { readonly caller: ModelCaller; readonly spec: string | undefined };
}

export interface WorkflowRuntime {
  run<I, O>(workflow: WorkflowStep<I, O>, input: I, options?: KeelWorkflowOptions): WorkflowRun<O>;
  resume<I, O>(workflow: WorkflowStep<I, O>, sessionId: string, options?: KeelWorkflowResumeOptions): WorkflowRun<O>;
}

/**
 * Workflows in the composition root: each run holds its session's lease (one writer, as agent runs do), model steps
 * use the runtime's gateways, and agent steps run as child sessions through the child runner, charging the run's
 * budget ledger. Resource locks are shared by every workflow of this Keel.
 */
export function createWorkflowRuntime(settings: WorkflowRuntimeSettings): WorkflowRuntime {
  const locks = new ResourceLocks();

  const services = (runModel: string | undefined, scopes: readonly string[] | undefined): WorkflowServices => {
    const callers = new Map<string, ModelCaller>();
    return {
      journal: settings.journal,
      blobs: settings.blobs,
      clock: settings.clock,
      locks,
      model(choice) {
        const key = choice ?? runModel ?? '';
        let caller = callers.get(key);
        if (caller === undefined) {
          caller = settings.model(choice ?? runModel).caller;
          callers.set(key, caller);
        }
        return caller;
      },
      price: (caller, usage, modelId) => costOf(caller.provider, modelId, usage),
      runAgent: (request) => runAgentStep(settings.children, request, scopes),
    };
  };

  const observed = (own: ((event: SessionEvent) => void) | undefined): { onEvent?: (event: SessionEvent) => void } => {
    const observe = settings.observe;
    if (observe === undefined) return own === undefined ? {} : { onEvent: own };
    return {
      onEvent: (event) => {
        observe({ type: 'event', event });
        own?.(event);
      },
    };
  };

  return {
    run(workflow, input, options = {}) {
      const sessionId = options.sessionId ?? createId('ses', settings.clock.now());
      const spec = options.model === undefined ? undefined : settings.model(options.model).spec;
      return underLease(settings.leases, sessionId, (leaseLost) =>
        startWorkflow(workflow, input, services(options.model, options.scopes), {
          sessionId,
          leaseLost,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
          ...(options.budget === undefined ? {} : { budget: options.budget }),
          ...observed(options.onEvent),
          ...(spec === undefined ? {} : { modelSpec: spec }),
        }),
      );
    },
    resume(workflow, sessionId, options = {}) {
      return underLease(settings.leases, sessionId, async (leaseLost) => {
        const recorded = await recordedModel(settings.journal, sessionId);
        return resumeWorkflow(workflow, sessionId, services(options.model ?? recorded, options.scopes), {
          leaseLost,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
          ...observed(options.onEvent),
        });
      });
    },
  };
}

/** The child session of an agent step: started, resumed, or read, by the child runner; its model calls charge the run's ledger. */
function runAgentStep(children: ChildSessionRunner, request: AgentRunRequest, scopes: readonly string[] | undefined): Promise<SessionResult> {
  const run = children.run({
    agent: request.agent,
    parentSessionId: request.parentSessionId,
    callId: request.callId,
    task: request.task,
    mode: 'step',
    heldScopes: scopes ?? request.agent.scopes,
    deadlineAt: request.deadlineAt,
    budget: request.ledger,
    slice: request.slice,
    signal: request.signal,
  });
  if (run.sessionId !== request.sessionId) {
    return Promise.reject(new KeelError('internal', `Agent step ${request.callId}: the child runner named its session ${run.sessionId}, but the workflow journaled ${request.sessionId}.`));
  }
  return run.result;
}

async function recordedModel(journal: Journal, sessionId: string): Promise<string | undefined> {
  for await (const event of journal.read(sessionId)) return event.type === 'session-start' ? event.model.spec : undefined;
  return undefined;
}

/** Runs a workflow under its session's lease, renewed while it runs and released when its result settles. */
function underLease<O>(leases: LeaseSettings, sessionId: string, start: (leaseLost: AbortSignal) => WorkflowRun<O> | Promise<WorkflowRun<O>>): WorkflowRun<O> {
  const lost = new AbortController();
  let renewal: ReturnType<typeof setInterval> | undefined;
  const result = (async (): Promise<WorkflowResult<O>> => {
    await acquireSessionLease(leases, sessionId);
    renewal = keepRenewing(leases, sessionId, lost);
    return (await start(lost.signal)).result;
  })().finally(async () => {
    clearInterval(renewal);
    await leases.store.release(sessionId, leases.owner).catch(() => undefined);
  });
  result.catch(() => undefined);
  return { sessionId, result };
}
