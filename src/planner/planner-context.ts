import type { AgentDefinition, ChildSessionRunner, ModelCaller, TreeBudget } from '../loop/index.ts';
import type { ResolvedPlannerOptions } from '../loop/planner-options.ts';
import type { Clock } from '../spec/clock.ts';
import type { Journal } from '../spec/journal.ts';
import type { Usage } from '../spec/usage.ts';
import type { PlanWriter } from './plan-writer.ts';

/** What the runtime lends a planner session: the journal, the clock, the agent's model, and the child runner for steps. */
export interface PlannerServices {
  readonly journal: Journal;
  readonly clock: Clock;
  /** The agent's model: planning calls and model checks go through it (the gateway's retries and limits apply). */
  readonly caller: ModelCaller;
  /** USD cost of a call's usage, null when the model has no price. */
  readonly price: (usage: Usage, modelId: string) => number | null;
  /** Runs each step's child session under its own lease. */
  readonly children: ChildSessionRunner;
}

/** One run of a planner session: its agent and options, the task, the writer, and the limits it runs under. */
export interface PlannerContext {
  readonly agent: AgentDefinition;
  readonly options: ResolvedPlannerOptions;
  readonly task: string;
  readonly writer: PlanWriter;
  readonly services: PlannerServices;
  /** Cancels the run (the caller's signal and the session's deadline). */
  readonly signal: AbortSignal;
  readonly deadlineAt: number | null;
  /** The session's node in its tree's budget ledger: planning calls, checks and every step's child draw from it. */
  readonly ledger: TreeBudget | null;
  /** The module the agent came from, recorded in each step's child session so the CLI can load it. */
  readonly agentModule?: string;
}
