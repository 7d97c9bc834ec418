import { createRoute, z } from '@hono/zod-openapi';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { KeelError } from '../errors/index.ts';
import type { SessionEvent, SessionStatus } from '../spec/events.ts';
import { ApiProblem } from './api-problem.ts';
import {
  ApiErrorSchema,
  ApprovalBodySchema,
  ApprovalParamsSchema,
  CancelResultSchema,
  EventStreamQuerySchema,
  JournalPageSchema,
  JournalQuerySchema,
  SessionIdParamsSchema,
  SessionListQuerySchema,
  SessionListSchema,
  SessionViewSchema,
  StartSessionBodySchema,
} from './api-schemas.ts';
import type { SessionView } from './api-schemas.ts';
import { resumePoint, streamSessionEvents } from './event-stream.ts';
import { requireRole, visibleSession } from './server-context.ts';
import type { ServerContext, ServerEnv } from './server-context.ts';
import { decodeCursor, encodeCursor } from './session-owners.ts';
import type { OwnerCursor, SessionOwner } from './session-owners.ts';
import { cancelSession, decideCall, startSession } from './session-runs.ts';
import { viewSession } from './session-views.ts';

const errors = {
  400: { description: 'Invalid request', content: { 'application/json': { schema: ApiErrorSchema } } },
  401: { description: 'No valid API key', content: { 'application/json': { schema: ApiErrorSchema } } },
  403: { description: 'The key lacks the role', content: { 'application/json': { schema: ApiErrorSchema } } },
  404: { description: 'No such session for this tenant', content: { 'application/json': { schema: ApiErrorSchema } } },
  409: { description: 'The session is not in a state for this', content: { 'application/json': { schema: ApiErrorSchema } } },
  429: { description: 'Rate limited or refused by admission control', content: { 'application/json': { schema: ApiErrorSchema } } },
} as const;

/** The error responses every /v1 route documents. */
export const errorResponses = errors;

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
const security = [{ bearer: [] }];

/** Statuses only the journal and lease can tell apart; listing them reads each candidate's journal. */
const openStatuses = new Set<string>(['queued', 'running', 'waiting-approval', 'interrupted']);
/** Rows a list request reads at most before it answers with a cursor (bounds the work of a sparse filter). */
const maxScannedRows = 1_000;

export function registerSessionRoutes(app: OpenAPIHono<ServerEnv>, context: ServerContext): void {
  app.openapi(
    createRoute({ method: 'post', path: '/v1/sessions', tags: ['sessions'], security, summary: 'Start a session of a loaded agent (role run)', request: { body: { content: { 'application/json': { schema: StartSessionBodySchema } }, required: true } }, responses: { 201: json(SessionViewSchema, 'The session, once its first event is journaled'), ...errors } }),
    async (c) => {
      const principal = requireRole(c, 'run');
      const owner = await startSession(context, principal, c.req.valid('json'), c.req.raw.signal);
      return c.json(await viewSession(context.views, owner), 201);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/sessions', tags: ['sessions'], security, summary: "List the tenant's sessions, newest first (role read)", request: { query: SessionListQuerySchema }, responses: { 200: json(SessionListSchema, 'A page of sessions'), ...errors } }),
    async (c) => {
      const principal = requireRole(c, 'read');
      const query = c.req.valid('query');
      if (query.tenant !== undefined && query.tenant !== principal.tenant) return c.json({ sessions: [], nextCursor: null }, 200);
      const limit = query.limit ?? 50;
      const status = query.status;
      const ended: SessionStatus | 'open' | undefined = status === undefined ? undefined : openStatuses.has(status) ? 'open' : (status as SessionStatus);
      let after: OwnerCursor | undefined = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      const sessions: SessionView[] = [];
      let scanned = 0;
      let exhausted = false;
      while (sessions.length < limit && scanned < maxScannedRows) {
        const rows: SessionOwner[] = await context.owners.page({ tenant: principal.tenant, agent: query.agent, since: query.since, until: query.until, ended, after, limit: Math.min(200, limit - sessions.length + (status === undefined ? 0 : 50)) });
        if (rows.length === 0) {
          exhausted = true;
          break;
        }
        for (const row of rows) {
          scanned += 1;
          after = { createdAt: row.createdAt, sessionId: row.sessionId };
          const view = await viewSession(context.views, row);
          if (status === undefined || view.status === status) sessions.push(view);
          if (sessions.length >= limit) break;
        }
      }
      return c.json({ sessions, nextCursor: exhausted || after === undefined ? null : encodeCursor(after) }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/sessions/{id}', tags: ['sessions'], security, summary: 'Read a session (role read)', request: { params: SessionIdParamsSchema }, responses: { 200: json(SessionViewSchema, 'The session'), ...errors } }),
    async (c) => {
      const principal = requireRole(c, 'read');
      const owner = await visibleSession(context, principal, c.req.valid('param').id);
      return c.json(await viewSession(context.views, owner), 200);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/sessions/{id}/journal', tags: ['sessions'], security, summary: 'Journal events after a sequence number, as JSON (role read)', request: { params: SessionIdParamsSchema, query: JournalQuerySchema }, responses: { 200: json(JournalPageSchema, 'Events in seq order'), ...errors } }),
    async (c) => {
      const principal = requireRole(c, 'read');
      const owner = await visibleSession(context, principal, c.req.valid('param').id);
      const { after = 0, limit = 1000 } = c.req.valid('query');
      const events: SessionEvent[] = [];
      for await (const event of context.keel.journal.read(owner.sessionId, after + 1)) {
        events.push(event);
        if (events.length >= limit) break;
      }
      return c.json({ events: events as unknown as Record<string, unknown>[], lastSeq: await context.keel.journal.lastSeq(owner.sessionId) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/sessions/{id}/events',
      tags: ['sessions'],
      security,
      summary: 'Stream journal events as server-sent events; resume with Last-Event-ID (role read)',
      description: 'Each event: `id: <seq>`, `event: session-event`, `data: <SessionEvent JSON>`. After session-end: `event: end`, then the stream closes. `: keep-alive` comments while quiet.',
      request: { params: SessionIdParamsSchema, query: EventStreamQuerySchema, headers: z.object({ 'last-event-id': z.string().max(40).optional() }) },
      responses: { 200: { description: 'text/event-stream', content: { 'text/event-stream': { schema: z.string() } } }, ...errors },
    }),
    async (c) => {
      const principal = requireRole(c, 'read');
      const owner = await visibleSession(context, principal, c.req.valid('param').id);
      const after = resumePoint(c.req.header('last-event-id'), c.req.valid('query').after);
      const presentedKey = /^Bearer[ \t]+(\S+)/i.exec(c.req.header('authorization') ?? '')?.[1] ?? '';
      return (await streamSessionEvents(c, context, { sessionId: owner.sessionId, after, principal, presentedKey })) as never;
    },
  );

  app.openapi(
    createRoute({ method: 'post', path: '/v1/sessions/{id}/cancel', tags: ['sessions'], security, summary: 'Cancel a session: the model call and tools are aborted, compensations run, it ends cancelled (role run)', request: { params: SessionIdParamsSchema }, responses: { 200: json(CancelResultSchema, 'The session after it ended'), ...errors } }),
    async (c) => {
      const principal = requireRole(c, 'run');
      const owner = await visibleSession(context, principal, c.req.valid('param').id);
      const before = await viewSession(context.views, owner);
      await cancelSession(context, principal, owner, before.status);
      return c.json({ session: await viewSession(context.views, owner) }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'post', path: '/v1/sessions/{id}/approvals/{callId}', tags: ['approvals'], security, summary: 'Approve, edit or reject a call that waits for a person (role approve)', request: { params: ApprovalParamsSchema, body: { content: { 'application/json': { schema: ApprovalBodySchema } }, required: true } }, responses: { 200: json(SessionViewSchema, 'The session, resumed'), ...errors } }),
    async (c) => {
      const principal = requireRole(c, 'approve');
      const { id, callId } = c.req.valid('param');
      const owner = await visibleSession(context, principal, id);
      const body = c.req.valid('json');
      if (body.decision === 'reject' && body.editedInput !== undefined) {
        throw new ApiProblem({ status: 400, code: 'invalid-request', message: 'editedInput goes with decision "approve" (approve with these arguments); a rejection takes only a reason.' });
      }
      const view = await viewSession(context.views, owner);
      if (view.status !== 'waiting-approval') {
        throw new KeelError('approval-not-pending', `Session ${id} is ${view.status}, not waiting for approval.`);
      }
      await decideCall(context, principal, owner, callId, { approved: body.decision === 'approve', reason: body.reason, editedInput: body.editedInput });
      return c.json(await viewSession(context.views, owner), 200);
    },
  );
}
