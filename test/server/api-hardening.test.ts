import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nestingBeyond } from '../../src/server/body-guard.ts';
import { eventually, startHarness } from './server-harness.ts';
import type { Harness } from './server-harness.ts';

interface KeyList { keys: { id: string; tenant: string }[] }

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => {
  await harness?.close();
});

describe('key management stays inside the caller tenant', () => {
  it('lists, creates and revokes only keys of the admin key tenant', async () => {
    const acmeAdmin = await harness.key('acme', ['admin']);
    const globexRead = await harness.key('globex', ['read']);
    const defaultAdminId = ((await harness.request('/v1/me')).body as { keyId: string }).keyId;

    const listed = (await harness.request('/v1/keys', { key: acmeAdmin })).body as KeyList;
    expect(listed.keys.length).toBeGreaterThan(0);
    expect(listed.keys.every((key) => key.tenant === 'acme')).toBe(true);

    const foreign = await harness.request('/v1/keys', { key: acmeAdmin, body: { name: 'takeover', tenant: 'default', roles: ['admin'] } });
    expect(foreign.status).toBe(403);
    expect(foreign.body).toMatchObject({ error: { code: 'forbidden' } });
    expect(JSON.stringify(foreign.body)).toContain('keel keys create --tenant default');
    expect((await harness.server.keys.list('default')).map((key) => key.name)).not.toContain('takeover');

    const own = await harness.request('/v1/keys', { key: acmeAdmin, body: { name: 'acme-reader', roles: ['read'] } });
    expect(own.status).toBe(201);
    expect(own.body).toMatchObject({ view: { tenant: 'acme', roles: ['read'] } });
    const named = await harness.request('/v1/keys', { key: acmeAdmin, body: { name: 'acme-runner', tenant: 'acme', roles: ['run'] } });
    expect(named.status).toBe(201);

    for (const victim of [defaultAdminId, ((await harness.server.keys.list('globex'))[0] as { id: string }).id]) {
      const revoked = await harness.request(`/v1/keys/${victim}`, { key: acmeAdmin, method: 'DELETE' });
      expect(revoked.status).toBe(404);
      expect(revoked.body).toMatchObject({ error: { code: 'not-found' } });
    }
    expect((await harness.request('/v1/me')).status).toBe(200);
    expect((await harness.request('/v1/me', { key: globexRead })).status).toBe(200);

    const ownId = (own.body as { view: { id: string } }).view.id;
    expect((await harness.request(`/v1/keys/${ownId}`, { key: acmeAdmin, method: 'DELETE' })).status).toBe(200);
    expect((await harness.request('/v1/me', { key: (own.body as { key: string }).key })).status).toBe(401);
  });
});

describe('request bodies are checked before they are parsed', () => {
  it('finds nesting beyond the limit outside strings only', () => {
    expect(nestingBeyond('{"a":[[1]]}', 3)).toBeNull();
    expect(nestingBeyond('{"a":[[[1]]]}', 3)).toBe(4);
    expect(nestingBeyond(JSON.stringify({ task: '[[[[[[[[{{{{{{ \\" [[[[' }), 2)).toBeNull();
    expect(nestingBeyond('[]'.repeat(1000), 1)).toBeNull();
  });

  it('refuses a deeply nested body with 400 and still accepts one nested within the limit', async () => {
    const runKey = await harness.key('acme', ['run']);
    const deep = `{"agent":"echo","task":"x","budget":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    const refused = await harness.request('/v1/sessions', { key: runKey, body: deep });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({ error: { code: 'invalid-request' } });
    expect((refused.body as { error: { message: string } }).error.message).toContain('more than 64 levels deep');

    // 64 levels counting the outer object: past the guard, then refused by the route's schema, not by depth.
    const atLimit = `{"agent":"echo","task":"x","budget":${'['.repeat(63)}${']'.repeat(63)}}`;
    const schemaRefused = await harness.request('/v1/sessions', { key: runKey, body: atLimit });
    expect(schemaRefused.status).toBe(400);
    expect((schemaRefused.body as { error: { message: string } }).error.message).toContain('does not match the API');

    const brackets = await harness.request('/v1/sessions', { key: runKey, body: { agent: 'echo', task: '['.repeat(10_000) } });
    expect(brackets.status).toBe(201);
  });

  it('refuses a body from a key with only the read role before reading it', async () => {
    const readKey = await harness.key('acme', ['read']);
    const response = await harness.request('/v1/sessions', { key: readKey, body: `{"agent":${'['.repeat(100_000)}` });
    expect(response.status).toBe(403);
    expect(response.body).toMatchObject({ error: { code: 'forbidden' } });
  });

  it('refuses a deeply nested edited input with 400 and leaves the approval pending', async () => {
    const waiting = ((await harness.request('/v1/sessions', { body: { agent: 'refunder', task: 'Refund.' } })).body as { id: string }).id;
    await eventually(async () => (await harness.request(`/v1/sessions/${waiting}`)).body as { status: string }, (view) => view.status === 'waiting-approval');
    const editedInput = `${'{"a":'.repeat(150_000)}1${'}'.repeat(150_000)}`;
    const response = await harness.request(`/v1/sessions/${waiting}/approvals/toolu_refund`, { body: `{"decision":"approve","editedInput":${editedInput}}` });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: { code: 'invalid-request' } });
    expect(harness.logs.join('')).not.toContain('storage-failure');
    expect(((await harness.request(`/v1/sessions/${waiting}`)).body as { status: string }).status).toBe('waiting-approval');
  });
});

/** Resolves with what the server sent once it closes the socket. */
function untilClosed(port: number, send: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(send));
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? undefined : reject(error)));
    socket.on('close', () => resolve(received));
  });
}

describe('connection limits of the listening server', () => {
  it('closes a connection that does not finish its headers in time', async () => {
    const limited = await startHarness({ server: { connections: { headersTimeoutMs: 200, requestTimeoutMs: 1_000 } } });
    try {
      const port = Number(new URL(limited.url).port);
      const received = await untilClosed(port, 'GET /healthz HTTP/1.1\r\nHost: keel\r\nX-Slow: 1\r\n');
      expect(received).not.toContain('200 OK');
      expect((await limited.request('/healthz', { key: null })).status).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it('drops connections over maxConnections', async () => {
    const limited = await startHarness({ server: { connections: { maxConnections: 2 } } });
    const held: ReturnType<typeof connect>[] = [];
    try {
      const port = Number(new URL(limited.url).port);
      for (let index = 0; index < 2; index += 1) {
        const socket = connect(port, '127.0.0.1');
        held.push(socket);
        await new Promise<void>((resolve) => {
          socket.once('data', () => resolve());
          socket.write('GET /healthz HTTP/1.1\r\nHost: keel\r\nConnection: keep-alive\r\n\r\n');
        });
      }
      const received = await untilClosed(port, 'GET /healthz HTTP/1.1\r\nHost: keel\r\n\r\n');
      expect(received).toBe('');
    } finally {
      for (const socket of held) socket.destroy();
      await limited.close();
    }
  });

  it('refuses inconsistent limits at creation', async () => {
    await expect(startHarness({ server: { connections: { headersTimeoutMs: 5_000, requestTimeoutMs: 1_000 } } })).rejects.toMatchObject({ code: 'invalid-config' });
  });
});
