export { startPlanner, resumePlanner, planApproval } from './run-planner.ts';
export type { PlannerRunOptions, PlannerStartOptions } from './run-planner.ts';
export { recordPlanDecision, readPlanState, planView, waitingPlanApproval, waitsForPlanDecision } from './plan-decision.ts';
export type { PlanDecision, PlanView } from './plan-decision.ts';
export { validatePlan, planJsonSchema, subagentsOf } from './plan-schema.ts';
export type { PlanValidation, PlanValidationContext } from './plan-schema.ts';
export { PlanState, stepCallId } from './plan-state.ts';
export type { PlanRevision } from './plan-state.ts';
export type { PlannerServices } from './planner-context.ts';
