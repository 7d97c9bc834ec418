import type { PlanApprovalEvent, PlanDeviationEvent, PlanInvalidEvent, PlanProposedEvent, ReplanEvent } from '../spec/events.ts';
import type { SpanEventModel } from './journal-spans.ts';

/** A planner's decisions as span events on its session's span: plans, invalid answers, approvals, deviations, replans. */
export function planSpanEvent(event: PlanProposedEvent | PlanInvalidEvent | PlanApprovalEvent | PlanDeviationEvent | ReplanEvent): SpanEventModel {
  switch (event.type) {
    case 'plan-proposed':
      return {
        name: 'keel.plan.proposed',
        timeMs: event.at,
        attributes: {
          'keel.plan.revision': event.revision,
          'keel.plan.steps': event.plan.steps.length,
          'keel.plan.step_ids': event.plan.steps.map((step) => step.id),
          'keel.plan.attempt': event.attempt,
          'keel.plan.requires_approval': event.requiresApproval,
          'gen_ai.request.model': event.model,
          'gen_ai.usage.input_tokens': event.usage.inputTokens + event.usage.cacheReadTokens + event.usage.cacheWriteTokens,
          'gen_ai.usage.output_tokens': event.usage.outputTokens,
        },
      };
    case 'plan-invalid':
      return {
        name: 'keel.plan.invalid',
        timeMs: event.at,
        attributes: { 'keel.plan.revision': event.revision, 'keel.plan.attempt': event.attempt, 'error.type': event.error.code, 'keel.message': event.error.message },
      };
    case 'plan-approval':
      return {
        name: 'keel.plan.approval',
        timeMs: event.at,
        attributes: { 'keel.plan.revision': event.revision, 'keel.plan.approval': event.decision, 'keel.plan.approver': event.approver, ...(event.reason === null ? {} : { 'keel.message': event.reason }) },
      };
    case 'plan-deviation':
      return {
        name: 'keel.plan.deviation',
        timeMs: event.at,
        attributes: { 'keel.plan.revision': event.revision, 'keel.plan.step.id': event.stepId, 'keel.plan.deviation': event.kind, 'keel.message': event.reason },
      };
    case 'replan':
      return {
        name: 'keel.plan.replan',
        timeMs: event.at,
        attributes: { 'keel.plan.revision': event.fromRevision, 'keel.plan.replan': event.replan, 'keel.plan.max_replans': event.maxReplans, 'keel.plan.completed': [...event.completed], 'keel.message': event.reason },
      };
  }
}
