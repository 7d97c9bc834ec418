import { createRoute } from '@hono/zod-openapi';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { KeelError } from '../errors/index.ts';
import { contextDiffToJson, diffContexts } from '../runtime/context-diff.ts';
import { runCounterfactual } from '../runtime/counterfactual.ts';
import { replayAllTurns, replayFromEvents, replayRequest, replayableTurns } from '../runtime/replay.ts';
import type { AuditRecord } from '../spec/audit-log.ts';
import { buildTraceTree } from '../tracing/index.ts';
import { CounterfactualBodySchema, DiffQuerySchema, JsonObjectSchema, SessionIdParamsSchema, TurnParamsSchema } from './api-schemas.ts';
import { errorResponses } from './session-routes.ts';
import { requireRole, visibleSession } from './server-context.ts';
import type { ServerContext, ServerEnv } from './server-context.ts';
import { verifySessionRecords } from './session-audit.ts';
import { readAllEvents } from './session-views.ts';

const security = [{ bearer: [] }];
const jsonObject = (description: string) => ({ 200: { description, content: { 'application/json': { schema: JsonObjectSchema } } }, ...errorResponses });
type JsonObject = Record<string, unknown>;

/** Counterfactual models named through the API: hosted providers by model id only (no file paths, no base URLs). */
const counterfactualModelPattern = /^(anthropic|openai):[A-Za-z0-9][A-Za-z0-9._-]{0,100}$/;

/** Audit records of one session returned at most (a session's records; the chain check covers the whole log). */
const maxAuditRecords = 5_000;

export function registerInspectRoutes(app: OpenAPIHono<ServerEnv>, context: ServerContext): void {
  const { journal, blobs } = context.keel;

  app.openapi(createRoute({ method: 'get', path: '/v1/sessions/{id}/trace', tags: ['inspect'], security, summary: 'The trace tree: turns, model calls, tool calls, children (role read)', request: { params: SessionIdParamsSchema }, responses: jsonObject('TraceTree') }), async (c) => {
    const owner = await visibleSession(context, requireRole(c, 'read'), c.req.valid('param').id);
    return c.json(buildTraceTree(await readAllEvents(journal, owner.sessionId)) as unknown as JsonObject, 200);
  });

  app.openapi(createRoute({ method: 'get', path: '/v1/sessions/{id}/turns/{turn}/explain', tags: ['inspect'], security, summary: "A turn's context plan: segments, tokens, what was kept and dropped (role read)", request: { params: TurnParamsSchema }, responses: jsonObject('ExplainPlan') }), async (c) => {
    const { id, turn } = c.req.valid('param');
    const owner = await visibleSession(context, requireRole(c, 'read'), id);
    const events = await readAllEvents(journal, owner.sessionId);
    const assemble = events.filter((event) => event.type === 'context-assemble' && event.turn === turn).at(-1);
    if (assemble?.type !== 'context-assemble') {
      const turns = [...new Set(events.flatMap((event) => (event.type === 'context-assemble' ? [event.turn] : [])))];
      throw new KeelError('invalid-argument', `Session ${id} has no context for turn ${turn}; turns with a context: ${turns.join(', ') || 'none'}.`);
    }
    if (assemble.planHash === undefined) {
      throw new KeelError('invalid-argument', `Turn ${turn} of session ${id} sent the whole conversation without a plan; define the agent with \`context\` to plan and explain it.`);
    }
    const stored = await blobs.get(assemble.planHash);
    if (stored === undefined) throw new KeelError('journal-corrupt', `The context plan ${assemble.planHash} of turn ${turn} is missing from the blob store.`);
    return c.json(JSON.parse(stored) as JsonObject, 200);
  });

  app.openapi(createRoute({ method: 'get', path: '/v1/sessions/{id}/replay', tags: ['inspect'], security, summary: "Every turn's request rebuilt and checked against its hash (role read)", request: { params: SessionIdParamsSchema }, responses: jsonObject('{ turns: [...] }') }), async (c) => {
    const owner = await visibleSession(context, requireRole(c, 'read'), c.req.valid('param').id);
    const turns = await replayAllTurns(journal, blobs, owner.sessionId);
    return c.json({
      turns: turns.map((turn) => (turn.status === 'verified'
        ? { turn: turn.turn, requestHash: turn.requestHash, status: turn.status, verified: true, messages: turn.replay.request.messages.length, tools: turn.replay.request.tools.length, characters: turn.replay.serialized.length }
        : { turn: turn.turn, requestHash: turn.requestHash, status: turn.status, verified: false, error: turn.error.toRecord() })),
    }, 200);
  });

  app.openapi(createRoute({ method: 'get', path: '/v1/sessions/{id}/turns/{turn}/replay', tags: ['inspect'], security, summary: 'The exact request a turn sent, verified against its hash (role read)', request: { params: TurnParamsSchema }, responses: jsonObject('The replayed request') }), async (c) => {
    const { id, turn } = c.req.valid('param');
    const owner = await visibleSession(context, requireRole(c, 'read'), id);
    const replay = await replayRequest(journal, blobs, owner.sessionId, turn);
    return c.json({ sessionId: owner.sessionId, turn: replay.turn, seq: replay.seq, attempts: replay.attempts, requestHash: replay.requestHash, verified: replay.verified, provider: replay.provider, model: replay.model, request: replay.request, response: replay.response } as unknown as JsonObject, 200);
  });

  app.openapi(createRoute({ method: 'post', path: '/v1/sessions/{id}/turns/{turn}/counterfactual', tags: ['inspect'], security, summary: 'Re-run one turn with another model, system prompt or context strategy; nothing is journaled (role run: it calls a model)', request: { params: TurnParamsSchema, body: { content: { 'application/json': { schema: CounterfactualBodySchema } }, required: true } }, responses: jsonObject('The counterfactual and how it differs') }), async (c) => {
    const { id, turn } = c.req.valid('param');
    const owner = await visibleSession(context, requireRole(c, 'run'), id);
    const body = c.req.valid('json');
    if (body.model !== undefined && !counterfactualModelPattern.test(body.model)) {
      throw new KeelError('invalid-argument', `A counterfactual model over the API is "anthropic:<model id>" or "openai:<model id>", got "${body.model.slice(0, 120)}".`);
    }
    if (body.model === undefined && body.system === undefined && body.strategy === undefined) {
      throw new KeelError('invalid-argument', 'A counterfactual changes something: give model, system or strategy (window:N, elide-tool-results, no-tools).');
    }
    const result = await runCounterfactual({
      journal,
      blobs,
      sessionId: owner.sessionId,
      turn,
      ...(body.model === undefined ? {} : { model: body.model }),
      ...(body.system === undefined ? {} : { systemPrompt: body.system }),
      ...(body.strategy === undefined ? {} : { strategy: body.strategy }),
      env: context.env,
      cwd: context.cwd,
      signal: c.req.raw.signal,
    });
    return c.json({
      sessionId: owner.sessionId,
      turn,
      changes: result.changes,
      provider: result.provider,
      original: result.original,
      counterfactual: result.counterfactual,
      costUsd: result.costUsd,
      latencyMs: result.latencyMs,
      differences: result.differences,
    } as unknown as JsonObject, 200);
  });

  app.openapi(createRoute({ method: 'get', path: '/v1/diff', tags: ['inspect'], security, summary: 'What the model saw at one turn that it did not at another, segment by segment (role read)', request: { query: DiffQuerySchema }, responses: jsonObject('The context diff') }), async (c) => {
    const principal = requireRole(c, 'read');
    const { a, b } = c.req.valid('query');
    const load = async (text: string) => {
      const match = /^(.+):(\d{1,9})$/.exec(text);
      const sessionId = match === null ? text : (match[1] as string);
      const owner = await visibleSession(context, principal, sessionId);
      const events = await readAllEvents(journal, owner.sessionId);
      const turn = match === null ? replayableTurns(events).at(-1) : Number(match[2]);
      if (turn === undefined) throw new KeelError('invalid-argument', `Session ${sessionId} has no model request to compare.`);
      return replayFromEvents(events, blobs, turn);
    };
    const left = await load(a);
    const right = await load(b);
    return c.json(contextDiffToJson(diffContexts(left.request, right.request), { labelA: `${left.sessionId}:${left.turn}`, labelB: `${right.sessionId}:${right.turn}` }), 200);
  });

  app.openapi(createRoute({ method: 'get', path: '/v1/sessions/{id}/audit', tags: ['inspect'], security, summary: "The session's audit records and the verification of those records (role read; the whole chain: keel audit verify)", request: { params: SessionIdParamsSchema }, responses: jsonObject('{ entries, verification }') }), async (c) => {
    const owner = await visibleSession(context, requireRole(c, 'read'), c.req.valid('param').id);
    const entries: AuditRecord[] = [];
    for await (const record of context.keel.audit.readSession(owner.sessionId)) {
      entries.push(record);
      if (entries.length >= maxAuditRecords) break;
    }
    const verification = await verifySessionRecords(context.keel.audit, entries);
    return c.json({ entries, verification } as unknown as JsonObject, 200);
  });
}
