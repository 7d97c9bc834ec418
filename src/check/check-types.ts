import type { AgentDefinition, BudgetLimits } from '../loop/index.ts';
import type { ToolPolicyOptions } from '../security/tool-policy.ts';
import type { WorkflowStep } from '../workflow/index.ts';

/**
 * An agent system as `keel check` sees it: its entry points and the policy and budget it runs under. Every agent
 * reachable from an entry point through `asTool` or `handoff` tools is found by itself; agents that workflow steps
 * run must be among those agents (the checker matches them by name and instructions hash).
 */
export interface AgentSystem {
  /** Agents that sessions start from (`keel.run(agent)`). */
  readonly agents?: readonly AgentDefinition[];
  /** Workflows that runs start from (`keel.workflows.run(workflow)`). */
  readonly workflows?: readonly WorkflowStep<never, unknown>[];
  /** The tool policy the system runs under, as given to `createKeel({ policy })`; the built-in defaults when absent. */
  readonly policy?: ToolPolicyOptions;
  /** The budget of every root run (`keel.run(agent, { budget })`); none when absent. */
  readonly budget?: BudgetLimits;
}

/** The six properties, in the order they are reported. */
export type PropertyId = 'bounded' | 'approval' | 'scopes' | 'idempotency' | 'outbound' | 'budgets';

/** A fact a proof relied on: the guard, the rule, the scope set, about one agent, tool or delegation. */
export interface CheckFact {
  /** What the fact is about: an agent, `agent/tool`, or a delegation path. */
  readonly subject: string;
  readonly statement: string;
}

/** A counterexample: the delegation path from an entry point to the offending agent, tool or edge, and why it fails. */
export interface CheckViolation {
  /** Entry point first: agent names, delegations such as `handoff(billing)`, and the tool last when there is one. */
  readonly path: readonly string[];
  readonly message: string;
}

export interface PropertyResult {
  readonly id: PropertyId;
  /** The property in one sentence. */
  readonly title: string;
  readonly holds: boolean;
  readonly violations: readonly CheckViolation[];
  /** What the proof relied on, for `--explain`. */
  readonly facts: readonly CheckFact[];
}

/** The outcome of `checkSystem`: every property, and whether all of them hold. */
export interface CheckReport {
  readonly holds: boolean;
  readonly counts: { readonly agents: number; readonly workflows: number; readonly tools: number; readonly delegations: number };
  readonly properties: readonly PropertyResult[];
}
