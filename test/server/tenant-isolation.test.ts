import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiRole } from '../../src/server/api-schemas.ts';
import { eventually, startHarness } from './server-harness.ts';
import type { Harness } from './server-harness.ts';

let harness: Harness;
/** A completed session and a session waiting for approval, both of tenant "acme". */
let done: string;
let waiting: string;
const keys = new Map<string, string>();
const roles: readonly ApiRole[] = ['read', 'run', 'approve', 'admin'];

beforeAll(async () => {
  harness = await startHarness();
  for (const tenant of ['acme', 'globex']) for (const role of roles) keys.set(`${tenant}:${role}`, await harness.key(tenant, [role]));
  const acmeRunner = keys.get('acme:admin') as string;
  done = ((await harness.request('/v1/sessions', { key: acmeRunner, body: { agent: 'echo', task: 'Hi.' } })).body as { id: string }).id;
  await eventually(async () => (await harness.request(`/v1/sessions/${done}`, { key: acmeRunner })).body as { status: string }, (view) => view.status === 'completed');
  waiting = ((await harness.request('/v1/sessions', { key: acmeRunner, body: { agent: 'refunder', task: 'Refund.' } })).body as { id: string }).id;
});
afterAll(async () => {
  await harness?.close();
});

interface RouteCase {
  readonly name: string;
  readonly role: ApiRole;
  readonly method: 'GET' | 'POST';
  readonly path: () => string;
  readonly body?: unknown;
  /** Whether the route names a session (other tenants get 404); else it is the tenant's own space. */
  readonly session: boolean;
}

// Every /v1 route that names a session, with the role it needs. The approval and cancel cases use the completed
// session, so an allowed call answers 409 and nothing changes between cells of the matrix.
const sessionRoutes: readonly RouteCase[] = [
  { name: 'read session', role: 'read', method: 'GET', path: () => `/v1/sessions/${done}`, session: true },
  { name: 'journal', role: 'read', method: 'GET', path: () => `/v1/sessions/${done}/journal`, session: true },
  { name: 'events', role: 'read', method: 'GET', path: () => `/v1/sessions/${done}/events`, session: true },
  { name: 'trace', role: 'read', method: 'GET', path: () => `/v1/sessions/${done}/trace`, session: true },
  { name: 'replay all', role: 'read', method: 'GET', path: () => `/v1/sessions/${done}/replay`, session: true },
  { name: 'replay turn', role: 'read', method: 'GET', path: () => `/v1/sessions/${done}/turns/1/replay`, session: true },
  { name: 'explain', role: 'read', method: 'GET', path: () => `/v1/sessions/${done}/turns/1/explain`, session: true },
  { name: 'audit', role: 'read', method: 'GET', path: () => `/v1/sessions/${done}/audit`, session: true },
  { name: 'diff', role: 'read', method: 'GET', path: () => `/v1/diff?a=${done}:1&b=${done}:1`, session: true },
  { name: 'cancel', role: 'run', method: 'POST', path: () => `/v1/sessions/${done}/cancel`, session: true },
  { name: 'counterfactual', role: 'run', method: 'POST', path: () => `/v1/sessions/${done}/turns/1/counterfactual`, body: { model: 'openai:gpt-test' }, session: true },
  { name: 'approve', role: 'approve', method: 'POST', path: () => `/v1/sessions/${done}/approvals/toolu_x`, body: { decision: 'approve' }, session: true },
  { name: 'plan', role: 'read', method: 'GET', path: () => `/v1/sessions/${done}/plan`, session: true },
  { name: 'plan approval', role: 'approve', method: 'POST', path: () => `/v1/sessions/${done}/plan-approval`, body: { decision: 'approve' }, session: true },
  { name: 'reject', role: 'approve', method: 'POST', path: () => `/v1/sessions/${waiting}/approvals/toolu_unknown`, body: { decision: 'reject' }, session: true },
];

const tenantRoutes: readonly RouteCase[] = [
  { name: 'list sessions', role: 'read', method: 'GET', path: () => '/v1/sessions', session: false },
  { name: 'agents', role: 'read', method: 'GET', path: () => '/v1/agents', session: false },
  { name: 'start session', role: 'run', method: 'POST', path: () => '/v1/sessions', body: { agent: 'unknown-agent', task: 'x' }, session: false },
  { name: 'list keys', role: 'admin', method: 'GET', path: () => '/v1/keys', session: false },
];

function holds(keyRole: ApiRole, needed: ApiRole): boolean {
  return keyRole === needed || keyRole === 'admin';
}

describe('tenant isolation: every route × every role × own and other tenant', () => {
  for (const route of [...sessionRoutes, ...tenantRoutes]) {
    for (const role of roles) {
      for (const tenant of ['acme', 'globex']) {
        const own = tenant === 'acme';
        it(`${route.name} with a ${role} key of the ${own ? 'owning' : 'other'} tenant`, async () => {
          const response = await harness.request(route.path(), { key: keys.get(`${tenant}:${role}`) as string, method: route.method, ...(route.body === undefined ? {} : { body: route.body }) });
          if (!holds(role, route.role)) {
            // Lacking the role is 403 whatever the session: the answer says nothing about whether it exists.
            expect(response.status).toBe(403);
            expect(response.body).toMatchObject({ error: { code: 'forbidden' } });
          } else if (route.session && !own) {
            expect(response.status).toBe(404);
            expect(response.body).toMatchObject({ error: { code: 'session-not-found' } });
            expect(JSON.stringify(response.body)).not.toContain('echo');
          } else {
            expect([401, 403, 404]).not.toContain(response.status);
          }
        });
      }
    }
  }

  it("a list never shows another tenant's sessions, also when asked for that tenant", async () => {
    const mine = (await harness.request('/v1/sessions', { key: keys.get('acme:read') as string })).body as { sessions: { id: string; tenant: string }[] };
    expect(mine.sessions.map((session) => session.id).sort()).toEqual([done, waiting].sort());
    const theirs = (await harness.request('/v1/sessions', { key: keys.get('globex:read') as string })).body as { sessions: unknown[] };
    expect(theirs.sessions).toEqual([]);
    const asked = (await harness.request('/v1/sessions?tenant=acme', { key: keys.get('globex:admin') as string })).body as { sessions: unknown[] };
    expect(asked.sessions).toEqual([]);
  });

  it('the same 404 for another tenant\'s session as for one that does not exist', async () => {
    const other = await harness.request(`/v1/sessions/${done}`, { key: keys.get('globex:read') as string });
    const missing = await harness.request('/v1/sessions/ses_does_not_exist', { key: keys.get('globex:read') as string });
    const strip = (body: unknown) => JSON.stringify(body).replace(/"requestId":"[^"]+"/, '').replaceAll(done, 'ID').replace('ses_does_not_exist', 'ID');
    expect(other.status).toBe(missing.status);
    expect(strip(other.body)).toBe(strip(missing.body));
  });

  it('every /v1 route without a valid key is 401; /healthz and /metrics need none', async () => {
    for (const route of [...sessionRoutes, ...tenantRoutes, { name: 'me', role: 'read', method: 'GET', path: () => '/v1/me', session: false } as const, { name: 'openapi', role: 'read', method: 'GET', path: () => '/v1/openapi.json', session: false } as const]) {
      const missing = await harness.request(route.path(), { key: null, method: route.method, ...(route.body === undefined ? {} : { body: route.body }) });
      expect(missing.status, route.name).toBe(401);
      expect(missing.headers.get('www-authenticate')).toContain('Bearer');
      const wrong = await harness.request(route.path(), { key: 'keel_key_01m981nvbs64tzgbnan1ymcwc6_MTDs9sSAMdqNfBCMans_GgYAnCJxp_ZEgaNijhBiGcE', method: route.method });
      expect(wrong.status, route.name).toBe(401);
    }
    expect((await harness.request('/healthz', { key: null })).status).toBe(200);
    expect((await harness.request('/metrics', { key: null })).status).toBe(200);
    expect((await harness.request('/readyz', { key: null })).status).toBe(200);
  });

  it('a revoked key is refused from its next request', async () => {
    const key = await harness.key('acme', ['read']);
    const me = (await harness.request('/v1/me', { key })).body as { keyId: string; tenant: string; roles: string[] };
    expect(me).toMatchObject({ tenant: 'acme', roles: ['read'] });
    // An admin of another tenant cannot revoke it (404, as for an unknown key); the tenant's own admin can.
    expect((await harness.request(`/v1/keys/${me.keyId}`, { method: 'DELETE' })).status).toBe(404);
    expect((await harness.request('/v1/me', { key })).status).toBe(200);
    expect((await harness.request(`/v1/keys/${me.keyId}`, { method: 'DELETE', key: keys.get('acme:admin') as string })).status).toBe(200);
    expect((await harness.request('/v1/me', { key })).status).toBe(401);
  });
});
