import { createRoute, z } from '@hono/zod-openapi';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { KeelError } from '../errors/index.ts';
import { planView, readPlanState } from '../planner/index.ts';
import { JsonObjectSchema, SessionIdParamsSchema, SessionViewSchema } from './api-schemas.ts';
import { errorResponses } from './session-routes.ts';
import { agentOf, approverOf, requireRole, visibleSession } from './server-context.ts';
import type { ServerContext, ServerEnv } from './server-context.ts';
import { trackRun, runNotifier } from './session-runs.ts';
import { decideQueuedPlan, queuedRow } from './queued-sessions.ts';
import { viewSession } from './session-views.ts';

const security = [{ bearer: [] }];

export const PlanApprovalBodySchema = z
  .object({
    decision: z.enum(['approve', 'reject']),
    editedPlan: z.unknown().optional().openapi({ description: 'Approve this plan instead (same shape as the proposed one); validated before it is journaled.' }),
    reason: z.string().max(2000).optional(),
  })
  .strict()
  .openapi('PlanApprovalBody');

/** The plan of a planner session (`defineAgent({ planner })`) and the person's decision on a plan that waits for one. */
export function registerPlanRoutes(app: OpenAPIHono<ServerEnv>, context: ServerContext): void {
  app.openapi(createRoute({ method: 'get', path: '/v1/sessions/{id}/plan', tags: ['approvals'], security, summary: "A planner session's current plan and whether it waits for approval (role read)", request: { params: SessionIdParamsSchema }, responses: { 200: { description: '{ sessionId, revision, plan, waitingForApproval }', content: { 'application/json': { schema: JsonObjectSchema } } }, ...errorResponses } }), async (c) => {
    const owner = await visibleSession(context, requireRole(c, 'read'), c.req.valid('param').id);
    const { sessionId, revision, plan, waitingForApproval } = planView(await readPlanState(context.keel.journal, owner.sessionId), owner.sessionId);
    return c.json({ sessionId, revision, plan, waitingForApproval } as unknown as Record<string, unknown>, 200);
  });

  app.openapi(createRoute({ method: 'post', path: '/v1/sessions/{id}/plan-approval', tags: ['approvals'], security, summary: 'Approve, edit or reject the plan that waits (role approve)', request: { params: SessionIdParamsSchema, body: { content: { 'application/json': { schema: PlanApprovalBodySchema } }, required: true } }, responses: { 200: { description: 'The session, resumed (or ended when rejected)', content: { 'application/json': { schema: SessionViewSchema } } }, ...errorResponses } }), async (c) => {
    const principal = requireRole(c, 'approve');
    const owner = await visibleSession(context, principal, c.req.valid('param').id);
    const body = c.req.valid('json');
    if (body.decision === 'reject' && body.editedPlan !== undefined) throw new KeelError('invalid-argument', 'editedPlan goes with decision "approve"; a rejection takes only a reason.');
    if (context.hub.active(owner.sessionId) !== undefined) throw new KeelError('session-busy', `Session ${owner.sessionId} is running; a plan decision applies only to a session that waits for one.`);
    const agent = agentOf(context, owner);
    const decision = { approved: body.decision === 'approve', approver: approverOf(principal), ...(body.reason === undefined ? {} : { reason: body.reason }), ...(body.editedPlan === undefined ? {} : { editedPlan: body.editedPlan }) };
    const queued = await queuedRow(context, owner.sessionId);
    if (queued !== undefined) {
      await decideQueuedPlan(context, queued.queue, { owner, agent, decision });
      return c.json(await viewSession(context.views, owner), 200);
    }
    const controller = new AbortController();
    const run = await context.keel.decidePlan(agent, owner.sessionId, decision, { signal: controller.signal, priority: owner.priority, tenant: owner.tenant, onUpdate: runNotifier(context, owner.sessionId) });
    trackRun(context, owner.sessionId, controller, run);
    context.hub.notify(owner.sessionId);
    return c.json(await viewSession(context.views, owner), 200);
  });
}
