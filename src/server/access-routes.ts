import { createRoute } from '@hono/zod-openapi';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { ApiProblem } from './api-problem.ts';
import { AgentListSchema, CreatedKeySchema, KeyCreateBodySchema, KeyIdParamsSchema, KeyListSchema, KeyViewSchema, MeSchema } from './api-schemas.ts';
import { errorResponses } from './session-routes.ts';
import { requireRole } from './server-context.ts';
import type { ServerContext, ServerEnv } from './server-context.ts';

const security = [{ bearer: [] }];

/** Who am I, which agents are loaded, and key management (admin). */
export function registerAccessRoutes(app: OpenAPIHono<ServerEnv>, context: ServerContext): void {
  app.openapi(createRoute({ method: 'get', path: '/v1/me', tags: ['access'], security, summary: "The calling key's id, name, tenant and roles (any role)", responses: { 200: { description: 'The principal', content: { 'application/json': { schema: MeSchema } } }, ...errorResponses } }), (c) => {
    const { keyId, name, tenant, roles } = c.get('principal');
    return c.json({ keyId, name, tenant, roles: [...roles] }, 200);
  });

  app.openapi(createRoute({ method: 'get', path: '/v1/agents', tags: ['access'], security, summary: 'The agents this server loaded, with their tools and input schemas (role read)', responses: { 200: { description: 'Agents', content: { 'application/json': { schema: AgentListSchema } } }, ...errorResponses } }), (c) => {
    requireRole(c, 'read');
    const agents = [...context.agents.values()]
      .sort((left, right) => left.name.localeCompare(right.name))
      .map((agent) => ({
        name: agent.name,
        description: agent.description ?? null,
        defaultTask: agent.defaultTask,
        tools: [...agent.tools.values()].map((tool) => ({ name: tool.name, description: tool.description, inputSchema: { ...tool.inputSchema }, risk: tool.risk })),
      }));
    return c.json({ agents }, 200);
  });

  app.openapi(createRoute({ method: 'get', path: '/v1/keys', tags: ['keys'], security, summary: "The caller's tenant's API keys (never the key itself) (role admin)", responses: { 200: { description: 'Keys', content: { 'application/json': { schema: KeyListSchema } } }, ...errorResponses } }), async (c) => {
    const principal = requireRole(c, 'admin');
    return c.json({ keys: await context.keys.list(principal.tenant) }, 200);
  });

  app.openapi(createRoute({ method: 'post', path: '/v1/keys', tags: ['keys'], security, summary: "Create a key of the caller's tenant with roles; the key is in this answer only (role admin)", request: { body: { content: { 'application/json': { schema: KeyCreateBodySchema } }, required: true } }, responses: { 201: { description: 'The new key', content: { 'application/json': { schema: CreatedKeySchema } } }, ...errorResponses } }), async (c) => {
    const principal = requireRole(c, 'admin');
    const body = c.req.valid('json');
    // An admin key administers its own tenant only; keys of other tenants are an operator's job (`keel keys create`).
    if (body.tenant !== undefined && body.tenant !== principal.tenant) {
      throw new ApiProblem({ status: 403, code: 'forbidden', message: `This key (${principal.keyId}) is an admin of tenant "${principal.tenant}" only and cannot create keys of tenant "${body.tenant}"; an operator creates them with \`keel keys create --tenant ${body.tenant}\`.` });
    }
    const tenant = principal.tenant;
    const created = await context.keys.create({ name: body.name, tenant, roles: body.roles, createdBy: principal.keyId });
    context.logger.info({ keyId: created.view.id, tenant, roles: body.roles, createdBy: principal.keyId }, 'api key created');
    return c.json(created, 201);
  });

  app.openapi(createRoute({ method: 'delete', path: '/v1/keys/{keyId}', tags: ['keys'], security, summary: "Revoke a key of the caller's tenant: it is refused from the next request on (role admin)", request: { params: KeyIdParamsSchema }, responses: { 200: { description: 'The revoked key', content: { 'application/json': { schema: KeyViewSchema } } }, ...errorResponses } }), async (c) => {
    const principal = requireRole(c, 'admin');
    const { keyId } = c.req.valid('param');
    const revoked = await context.keys.revoke(keyId, principal.tenant);
    // Another tenant's key answers exactly like a missing one, so ids do not leak across tenants.
    if (revoked === null) throw new ApiProblem({ status: 404, code: 'not-found', message: `No key ${keyId} in tenant "${principal.tenant}".` });
    context.logger.info({ keyId, revokedBy: principal.keyId }, 'api key revoked');
    return c.json(revoked, 200);
  });
}
