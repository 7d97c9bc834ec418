import type { SessionEvent } from '../spec/events.ts';
import type { Usage } from '../spec/usage.ts';
import type { GuardTrip } from './guards.ts';
import type { TreeBudget } from './tree-budget.ts';

/**
 * Charges what one written event spent to the session's tree budget. A child's `child-end` is not charged: the
 * child's own calls were, to the child's node and so to this one. `session-end` repeats the session's totals.
 */
export function chargeTreeBudget(budget: TreeBudget | undefined, event: SessionEvent): void {
  if (budget === undefined || event.type === 'child-end' || event.type === 'session-end') return;
  const spend = event as { readonly usage?: Usage | null; readonly costUsd?: number | null };
  if (spend.usage === undefined || spend.usage === null) return;
  budget.charge(spend.usage, spend.costUsd ?? null);
}

/**
 * The guard trip of a tree budget (this session's or an ancestor's) that is used up, counting `pending` (a response
 * about to be journaled) as spent; null while every budget up to the root has room.
 */
export function treeBudgetTrip(state: { readonly turn: number }, budget: TreeBudget | undefined, pending?: { readonly usage: Usage; readonly costUsd: number | null }): GuardTrip | null {
  if (budget === undefined) return null;
  const trip = budget.trip(pending);
  if (trip === null) return null;
  return { type: 'guard-trip', turn: state.turn, guard: trip.guard, limit: trip.limit, actual: trip.actual, message: trip.message, budgetSessionId: trip.budgetSessionId, spenderSessionId: trip.spenderSessionId };
}
