import type { Clock } from '../spec/clock.ts';
import type { ErrorRecord, EventBody, GateEvent, ParallelJoinEvent, RouteDecisionEvent, WorkflowStepKind } from '../spec/events.ts';
import type { BlobStore, Journal } from '../spec/journal.ts';
import type { Usage } from '../spec/usage.ts';
import type { AgentDefinition, ModelCaller, SessionResult, TreeBudget } from '../loop/index.ts';
import type { ResourceLocks } from './resource-locks.ts';

/**
 * What a step sees besides its input. A step that has effects outside Keel should pass `idempotencyKey` to them: a
 * step that was running when the process died runs again on resume with the same key.
 */
export interface StepContext {
  /** Aborts on the caller's cancel, the run's deadline and the step's own timeout. */
  readonly signal: AbortSignal;
  readonly sessionId: string;
  /** The step's place in the workflow, such as `report/extract`; stable across resumes. */
  readonly path: string;
  /** 1 for the first run; a gate that sends the step back runs it again as attempt 2, 3, … */
  readonly attempt: number;
  /** Why the previous attempt was sent back by a gate; null on the first attempt. */
  readonly feedback: string | null;
  /** Derived from (session, path, attempt): the same on every run of this attempt, different for each attempt. */
  readonly idempotencyKey: string;
  /**
   * Runs `work` while holding the lock of `resource` (per Keel instance): steps that update the same record
   * serialize their read-modify-write through it instead of losing an update.
   */
  withLock<T>(resource: string, work: () => Promise<T>): Promise<T>;
}

/** A workflow step's spend, journaled in its `step-end` and counted against the run's budget. */
export interface StepSpend {
  readonly usage: Usage;
  readonly costUsd: number | null;
}

/** How an agent step asks the runtime to run its child session. */
export interface AgentRunRequest {
  readonly agent: AgentDefinition;
  /** The step's path and attempt: with the workflow session's id it names the child session. */
  readonly callId: string;
  /** The child session's id, fixed before it starts: a resume continues (or reads) this session, never starts another. */
  readonly sessionId: string;
  readonly parentSessionId: string;
  readonly task: string;
  readonly signal: AbortSignal;
  /** A slice the step gives its child, smaller than what the workflow has left (refused if larger); null: the remainder. */
  readonly slice: { readonly tokens: number | null; readonly costUsd: number | null } | null;
  readonly deadlineAt: number | null;
  /** The workflow's budget ledger: the child's model calls charge it, so siblings and the workflow see its spending. */
  readonly ledger: TreeBudget | null;
}

/** What the runtime gives the workflow engine: the journal, models, agents and locks. */
export interface WorkflowServices {
  readonly journal: Journal;
  readonly blobs: BlobStore;
  readonly clock: Clock;
  /** The model of a model step: its own choice (a registered name or a provider spec), else the run's. */
  readonly model: (choice: string | undefined) => ModelCaller;
  readonly price: (caller: ModelCaller, usage: Usage, modelId: string) => number | null;
  /** Starts the child session, resumes it when its journal exists, or reads its result when it has ended. */
  readonly runAgent: (request: AgentRunRequest) => Promise<SessionResult>;
  readonly locks: ResourceLocks;
}

/** Where a step runs: its path and attempt, the run it belongs to. Internal to the engine and the step kinds. */
export interface StepScope {
  readonly path: string;
  readonly attempt: number;
  readonly feedback: string | null;
  readonly signal: AbortSignal;
  readonly run: WorkflowExecution;
}

/** One running workflow: how steps journal, reuse recorded outcomes and run their children. */
export interface WorkflowExecution {
  readonly sessionId: string;
  readonly services: WorkflowServices;
  /** Runs a child step under `parentPath`, reusing its recorded outcome when the journal has one. */
  runChild<I, O>(step: WorkflowStep<I, O>, input: I, scope: ChildScope): Promise<O>;
  /** Journals a decision (gate, route, join) unless the journal already has it; returns the recorded one. */
  decide<E extends DecisionEvent>(body: E): Promise<E>;
  /** Child session id of an agent step at this path and attempt, fixed by its `step-start`. */
  childSessionId(path: string, attempt: number): string;
  /** What is left of the run's budget now (null: no limit of that kind). */
  remainingBudget(): { readonly tokens: number | null; readonly costUsd: number | null; readonly deadlineAt: number | null };
}

export interface ChildScope {
  readonly parentPath: string;
  readonly signal: AbortSignal;
  readonly attempt?: number;
  readonly feedback?: string | null;
}

/** The decisions a workflow journals between steps. */
export type DecisionEvent = EventBody<GateEvent> | EventBody<RouteDecisionEvent> | EventBody<ParallelJoinEvent>;

/**
 * A workflow step: a function, a model call, an agent run, or a workflow of steps (chain, route, parallel, vote).
 * Its output must be a JSON value: it is journaled, and a resume returns the journaled value instead of running the
 * step again. Build steps with `step`, `modelStep`, `agentStep`, `chain`, `route`, `parallel` and `vote`.
 */
export interface WorkflowStep<I, O> {
  readonly name: string;
  readonly kind: WorkflowStepKind;
  /** The shape of the step and of the steps inside it, hashed into `workflow-start` so a resume can check it. */
  readonly shape: StepShape;
  /** Runs the step once. The engine journals its start and end around this call. */
  execute(input: I, scope: StepScope): Promise<StepOutput<O>>;
}

export interface StepShape {
  readonly name: string;
  readonly kind: WorkflowStepKind;
  readonly children?: readonly StepShape[];
  readonly detail?: string;
}

export interface StepOutput<O> {
  readonly output: O;
  /** The leaf step's own spend; composite steps leave it out (their children journaled theirs). */
  readonly spend?: StepSpend;
}

/** The outcome of a workflow run. */
export interface WorkflowResult<O> {
  readonly sessionId: string;
  readonly status: 'completed' | 'failed' | 'cancelled';
  /** The workflow's output when completed (as journaled: a JSON value), else null. */
  readonly output: O | null;
  readonly error: ErrorRecord | null;
  /** Model spend of every step, agent steps' child sessions included. */
  readonly usage: Usage;
  readonly costUsd: number | null;
}
