import { KeelError } from '../errors/index.ts';
import { sha256 } from '../util/index.ts';
import type { ChildMode, EventBody, SessionBudget } from '../spec/events.ts';
import type { AgentDefinition } from './define-agent.ts';
import type { SessionResult, SessionRun } from './loop-types.ts';
import type { TreeBudget } from './tree-budget.ts';

/**
 * The id of the child session a parent starts for one call (or workflow step). Derived, never random: a parent that
 * resumes after a crash asks for the same call again and finds the child it started, so no child runs twice.
 * @example
 * ```ts
 * const events = await keel.events(childSessionId(parentSessionId, 'call_1')); // the child's own journal
 * ```
 */
export function childSessionId(parentSessionId: string, callId: string): string {
  return `ses_${sha256(`${parentSessionId}\u0000child\u0000${callId}`).slice(0, 32)}`;
}

/** Everything a child session inherits from the session that delegates to it. */
export interface ChildRunRequest {
  readonly agent: AgentDefinition;
  readonly parentSessionId: string;
  /** The parent's call (or workflow step) that starts the child; with the parent's id it names the child. */
  readonly callId: string;
  /** The child's whole context: its task and what the parent chose to pass, nothing of the parent's conversation. */
  readonly task: string;
  readonly mode: ChildMode;
  /**
   * The scopes the parent holds. A child declaring a scope outside them is refused (`tool-denied`) before it starts;
   * it runs with the intersection. Null when the parent is not an agent with scopes (a workflow), which grants none.
   */
  readonly heldScopes: readonly string[] | null;
  /** The parent's deadline (epoch ms): the child's is never later. */
  readonly deadlineAt: number | null;
  /** The parent's budget ledger: the child draws from what the tree has left. */
  readonly budget: TreeBudget | null;
  /** A smaller slice of the parent's budget; larger is refused. */
  readonly slice: SessionBudget | null;
  /** Wall-clock time the child may take from its start, within the parent's deadline. */
  readonly timeMs?: number;
  readonly signal?: AbortSignal;
  /** The module the tree's root agent came from, recorded in the child's session-start so the CLI can load the child's agent. */
  readonly agentModule?: string;
}

/**
 * Runs child sessions: starts a child when its journal is empty, resumes it when it is open, and returns its
 * recorded outcome when it has ended. Implemented by the runtime (`createKeel`), which holds the child's lease.
 */
export interface ChildSessionRunner {
  run(request: ChildRunRequest): SessionRun;
}

/** The scopes a child runs with: what it declares, provided the parent holds all of it. */
export function delegatedScopes(agent: AgentDefinition, held: readonly string[] | null, parentSessionId: string): readonly string[] {
  const holding = new Set(held ?? []);
  const wider = agent.scopes.filter((scope) => !holding.has(scope));
  if (wider.length > 0) {
    throw new KeelError(
      'tool-denied',
      `Agent "${agent.name}" asks for scope(s) ${wider.map((scope) => `"${scope}"`).join(', ')} that its parent (session ${parentSessionId}) does not hold: a child's scopes can only narrow. Grant the scope to the parent or remove it from the child.`,
      { details: { agent: agent.name, parentSessionId, widened: wider } },
    );
  }
  return agent.scopes.filter((scope) => holding.has(scope));
}

/** The `child-end` body for a child's result, for the parent's journal (an agent's or a workflow's). */
export function childEndBody(request: { readonly callId: string; readonly turn: number; readonly childSessionId: string }, result: SessionResult): EventBody {
  if (result.status === 'awaiting-approval') {
    throw new KeelError('internal', `Child session ${request.childSessionId} has not ended: it waits for approval.`);
  }
  return {
    type: 'child-end',
    turn: request.turn,
    callId: request.callId,
    childSessionId: request.childSessionId,
    status: result.status,
    output: result.output,
    error: result.error,
    usage: result.usage,
    costUsd: result.costUsd,
  };
}
