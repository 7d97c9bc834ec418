import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keelCodes } from '../../src/errors/keel-error.ts';
import { keelCodeStatus } from '../../src/server/index.ts';
import { eventually, startHarness } from './server-harness.ts';
import type { Harness } from './server-harness.ts';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({ server: { rateLimit: { capacity: 400, refillPerSecond: 50 }, maxBodyBytes: 64 * 1024 } });
});
afterAll(async () => {
  await harness?.close();
});

interface View {
  id: string;
  status: string;
  output: string | null;
  lastSeq: number;
  tenant: string;
  agent: string;
  pendingApprovals: { callId: string; tool: string; input: unknown }[];
}

const completed = async (id: string): Promise<View> => eventually(async () => (await harness.request(`/v1/sessions/${id}`)).body as View, (view) => view.status === 'completed');

describe('sessions over HTTP', () => {
  it('starts a session, reads it, lists it with filters and cursor paging', async () => {
    const ids: string[] = [];
    for (let index = 0; index < 5; index += 1) {
      const started = await harness.request('/v1/sessions', { body: { agent: 'echo', task: `Say hello ${index}.`, priority: index % 2 === 0 ? 'interactive' : 'batch' } });
      expect(started.status).toBe(201);
      const view = started.body as View;
      expect(view).toMatchObject({ tenant: 'default', agent: 'echo' });
      expect(view.lastSeq).toBeGreaterThan(0);
      ids.push(view.id);
    }
    for (const id of ids) expect((await completed(id)).output).toBe('Hello from echo.');
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = (await harness.request(`/v1/sessions?agent=echo&status=completed&limit=2${cursor === null ? '' : `&cursor=${cursor}`}`)).body as { sessions: View[]; nextCursor: string | null };
      expect(page.sessions.length).toBeLessThanOrEqual(2);
      seen.push(...page.sessions.map((session) => session.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen).toEqual([...ids].reverse());
    expect(((await harness.request('/v1/sessions?status=running')).body as { sessions: View[] }).sessions.filter((session) => ids.includes(session.id))).toEqual([]);
    expect(((await harness.request('/v1/sessions?agent=booker')).body as { sessions: View[] }).sessions).toEqual([]);
    expect(((await harness.request(`/v1/sessions?since=${Date.now() + 60_000}`)).body as { sessions: View[] }).sessions).toEqual([]);
    const bad = await harness.request('/v1/sessions?cursor=bm90LWEtY3Vyc29y');
    expect(bad.status).toBe(400);
  });

  it('approves with edited arguments, records who approved, and rejects', async () => {
    const created = (await harness.request('/v1/sessions', { body: { agent: 'refunder', task: 'Refund 1042.' } })).body as View;
    // The POST answers once the session's first event is journaled; the approval request follows in the background.
    const started = await eventually(async () => (await harness.request(`/v1/sessions/${created.id}`)).body as View, (view) => view.status !== 'running');
    expect(started.status).toBe('waiting-approval');
    expect(started.pendingApprovals).toMatchObject([{ callId: 'toolu_refund', tool: 'refund', input: { orderId: '1042', amount: 500 } }]);
    const approver = await harness.key('default', ['approve', 'read']);
    const invalid = await harness.request(`/v1/sessions/${started.id}/approvals/toolu_refund`, { key: approver, body: { decision: 'approve', editedInput: { orderId: '1042', amount: -1 } } });
    expect(invalid.status).toBe(400);
    const mixed = await harness.request(`/v1/sessions/${started.id}/approvals/toolu_refund`, { key: approver, body: { decision: 'reject', editedInput: {} } });
    expect(mixed.status).toBe(400);
    const approved = await harness.request(`/v1/sessions/${started.id}/approvals/toolu_refund`, { key: approver, body: { decision: 'approve', editedInput: { orderId: '1042', amount: 120 }, reason: 'partial' } });
    expect(approved.status).toBe(200);
    expect((await completed(started.id)).output).toBe('Refund handled.');
    expect(harness.effects.refunds).toEqual([{ orderId: '1042', amount: 120 }]);
    const events = ((await harness.request(`/v1/sessions/${started.id}/journal`)).body as { events: { type: string; approver?: string }[] }).events;
    const me = (await harness.request('/v1/me', { key: approver })).body as { keyId: string };
    expect(events.find((event) => event.type === 'tool-approval')?.approver).toContain(me.keyId);
    const again = await harness.request(`/v1/sessions/${started.id}/approvals/toolu_refund`, { key: approver, body: { decision: 'approve' } });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: { code: 'approval-not-pending' } });

    const second = (await harness.request('/v1/sessions', { body: { agent: 'refunder', task: 'Refund 1042.' } })).body as View;
    const rejected = await harness.request(`/v1/sessions/${second.id}/approvals/toolu_refund`, { key: approver, body: { decision: 'reject', reason: 'not a duplicate' } });
    expect(rejected.status).toBe(200);
    await completed(second.id);
    expect(harness.effects.refunds).toHaveLength(1);
  });

  it('serves trace, replay, diff and audit as JSON, and explains why explain has nothing', async () => {
    const id = ((await harness.request('/v1/sessions', { body: { agent: 'echo', task: 'Trace me.' } })).body as View).id;
    await completed(id);
    const trace = await harness.request(`/v1/sessions/${id}/trace`);
    expect(trace.status).toBe(200);
    expect(trace.body).toMatchObject({ sessionId: id, status: 'completed' });
    const replay = (await harness.request(`/v1/sessions/${id}/replay`)).body as { turns: { turn: number; verified: boolean }[] };
    expect(replay.turns).toEqual([expect.objectContaining({ turn: 1, verified: true })]);
    const turn = (await harness.request(`/v1/sessions/${id}/turns/1/replay`)).body as { request: { messages: unknown[] }; verified: boolean };
    expect(turn.verified).toBe(true);
    expect(turn.request.messages.length).toBeGreaterThan(0);
    const diff = await harness.request(`/v1/diff?a=${id}:1&b=${id}`);
    expect(diff.status).toBe(200);
    const explain = await harness.request(`/v1/sessions/${id}/turns/1/explain`);
    expect(explain.status).toBe(400);
    expect((explain.body as { error: { message: string } }).error.message).toMatch(/without a plan/);
    const missingTurn = await harness.request(`/v1/sessions/${id}/turns/9/replay`);
    expect(missingTurn.status).toBe(400);
    const audit = (await harness.request(`/v1/sessions/${id}/audit`)).body as { verification: { ok: boolean } };
    expect(audit.verification.ok).toBe(true);
    const counterfactual = await harness.request(`/v1/sessions/${id}/turns/1/counterfactual`, { body: { model: 'scripted:/etc/passwd' } });
    expect(counterfactual.status).toBe(400);
  });
});

describe('HTTP behaviour', () => {
  it('maps every KeelError code to a status in one table', () => {
    expect(Object.keys(keelCodeStatus).sort()).toEqual(Object.keys(keelCodes).sort());
    expect(keelCodeStatus['session-not-found']).toBe(404);
    expect(keelCodeStatus['admission-refused']).toBe(429);
  });

  it('answers malformed requests with 400, large bodies with 413, unknown routes with 404, each with a request id', async () => {
    const unknownAgent = await harness.request('/v1/sessions', { body: { agent: 'nobody', task: 'x' } });
    expect(unknownAgent.status).toBe(400);
    expect((unknownAgent.body as { error: { message: string } }).error.message).toMatch(/booker, echo, refunder/);
    const invalid = await harness.request('/v1/sessions', { body: { agent: 'echo', task: '', extra: 1 } });
    expect(invalid.status).toBe(400);
    expect(invalid.body).toMatchObject({ error: { code: 'invalid-request' } });
    const malformed = await harness.request('/v1/sessions', { body: '{"agent":' });
    expect(malformed.status).toBe(400);
    const large = await harness.request('/v1/sessions', { body: { agent: 'echo', task: 'x'.repeat(100_000) } });
    expect(large.status).toBe(413);
    expect(large.body).toMatchObject({ error: { code: 'payload-too-large' } });
    const unknown = await harness.request('/v1/nothing-here');
    expect(unknown.status).toBe(404);
    expect((unknown.body as { error: { requestId: string } }).error.requestId).toBe(unknown.headers.get('x-request-id'));
    const queued = await harness.request('/v1/sessions', { body: { agent: 'echo', task: 'x', mode: 'queue' } });
    expect(queued.status).toBe(400);
    expect((queued.body as { error: { message: string } }).error.message).toMatch(/no worker queue/);
  });

  it('rate-limits per key with 429 and Retry-After', async () => {
    const limited = await startHarness({ server: { rateLimit: { capacity: 3, refillPerSecond: 0.5 } } });
    try {
      const statuses: number[] = [];
      for (let index = 0; index < 5; index += 1) statuses.push((await limited.request('/v1/me')).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      const refused = await limited.request('/v1/me');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      // Another key has its own bucket.
      expect((await limited.request('/v1/me', { key: await limited.key('default', ['read']) })).status).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it('logs one JSON line per request with the request id, never the key', async () => {
    const response = await harness.request('/v1/me', { headers: { 'x-request-id': 'trace-me-123' } });
    expect(response.headers.get('x-request-id')).toBe('trace-me-123');
    const line = harness.logs.map((text) => JSON.parse(text) as Record<string, unknown>).find((entry) => entry.requestId === 'trace-me-123');
    expect(line).toMatchObject({ method: 'GET', path: '/v1/me', status: 200, tenant: 'default' });
    expect(harness.logs.join('')).not.toContain(harness.adminKey);
  });

  it('publishes the OpenAPI document generated from the schemas', async () => {
    const document = (await harness.request('/v1/openapi.json')).body as { openapi: string; paths: Record<string, unknown>; components: { schemas: Record<string, unknown> } };
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/v1/sessions', '/v1/sessions/{id}', '/v1/sessions/{id}/events', '/v1/sessions/{id}/cancel', '/v1/sessions/{id}/approvals/{callId}', '/v1/diff', '/v1/keys']));
    expect(Object.keys(document.components.schemas)).toEqual(expect.arrayContaining(['SessionView', 'StartSessionBody', 'ApprovalBody', 'ApiError']));
  });

  it('serves the metrics of the sessions the runtime ran, in Prometheus text, without a key', async () => {
    const metrics = await harness.request('/metrics', { key: null });
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(String(metrics.body)).toMatch(/^keel_session_count_total\{gen_ai_agent_name="echo",keel_session_completion="success"[^}]*\} [1-9]/m);
    expect(String(metrics.body)).toMatch(/^gen_ai_client_token_usage_count\{/m);
  });
});
