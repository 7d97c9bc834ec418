import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamLimits } from '../../src/server/stream-limits.ts';
import { eventually, startHarness } from './server-harness.ts';
import type { Harness } from './server-harness.ts';
import { readEventStream } from './sse-client.ts';
import type { StreamedEvent } from './sse-client.ts';

// The booker's second model call waits while `bookerDelayMs` says so: a session that is still running.
let bookerDelayMs = 0;
let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({ bookerDelay: (index) => (index === 1 ? bookerDelayMs : 0) });
});
afterAll(async () => {
  await harness?.close();
});

interface View {
  id: string;
  status: string;
  lastSeq: number;
}

const keyIdOf = (key: string): string => /^keel_(key_[0-9a-z]{26})_/.exec(key)?.[1] as string;

async function settled(sessionId: string, status: string): Promise<View> {
  return eventually(async () => (await harness.request(`/v1/sessions/${sessionId}`)).body as View, (view) => view.status === status);
}

/** A refunder session that waits for approval of its refund: it has not ended and no process here runs it. */
async function waitingSession(): Promise<View> {
  const started = (await harness.request('/v1/sessions', { body: { agent: 'refunder', task: 'Refund order 1042.' } })).body as View;
  return settled(started.id, 'waiting-approval');
}

/** Opens a stream and resolves once its `: connected` line arrived (the server holds its slot from then on). */
async function openStream(url: string, key: string): Promise<{ status: number; close: () => void; done: Promise<unknown> }> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { authorization: `Bearer ${key}` }, signal: controller.signal });
  if (response.status === 200 && response.body !== null) {
    const reader = response.body.getReader();
    await reader.read();
    const done = (async () => {
      for (;;) if ((await reader.read()).done) return;
    })().catch(() => undefined);
    return { status: 200, close: () => controller.abort(), done };
  }
  return { status: response.status, close: () => controller.abort(), done: response.text().catch(() => undefined) };
}

describe('resume points past the last event', () => {
  it('answers `end` at once for an ended session, from the header or ?after=', async () => {
    const started = (await harness.request('/v1/sessions', { body: { agent: 'echo', task: 'Hi.' } })).body as View;
    const view = await settled(started.id, 'completed');
    const url = `${harness.url}/v1/sessions/${started.id}/events`;
    for (const lastEventId of [view.lastSeq + 1, 999_999_999]) {
      const events: StreamedEvent[] = [];
      const result = await readEventStream(url, { key: harness.adminKey, lastEventId, onEvent: (event) => void events.push(event) });
      expect(result).toEqual({ status: 200, ended: true });
      expect(events.map((event) => event.event)).toEqual(['end']);
      expect(JSON.parse(events[0]!.data)).toEqual({ status: 'completed', lastSeq: view.lastSeq });
    }
    const events: string[] = [];
    const result = await readEventStream(`${url}?after=${view.lastSeq + 5}`, { key: harness.adminKey, onEvent: (event) => void events.push(event.event) });
    expect(result.ended).toBe(true);
    expect(events).toEqual(['end']);
  });

  it('refuses with 400 a resume point past the last event of a session that has not ended', async () => {
    bookerDelayMs = 1_500;
    const started = (await harness.request('/v1/sessions', { body: { agent: 'booker', task: 'Book tuesday.' } })).body as View;
    const running = await harness.request(`/v1/sessions/${started.id}/events`, { headers: { 'last-event-id': '5000' } });
    expect(running.status).toBe(400);
    expect(running.body).toMatchObject({ error: { code: 'invalid-argument', message: expect.stringContaining('past session') } });
    const waiting = await waitingSession();
    const refused = await harness.request(`/v1/sessions/${waiting.id}/events?after=${waiting.lastSeq + 1}`);
    expect(refused.status).toBe(400);
    await settled(started.id, 'completed');
    bookerDelayMs = 0;
  });
});

describe('open streams per key', () => {
  it('refuses the stream beyond the per-key cap with 429 and frees the slot when a stream closes', async () => {
    const waiting = await waitingSession();
    const key = await harness.key('default', ['read']);
    const url = `${harness.url}/v1/sessions/${waiting.id}/events`;
    const limits = new StreamLimits();
    const open = await Promise.all(Array.from({ length: limits.perKey }, () => openStream(url, key)));
    expect(open.every((stream) => stream.status === 200)).toBe(true);
    const refused = await harness.request(`/v1/sessions/${waiting.id}/events`, { key });
    expect(refused.status).toBe(429);
    expect(refused.body).toMatchObject({ error: { code: 'rate-limited', message: expect.stringContaining(`already holds ${limits.perKey} open event streams`) } });
    // Another key of the tenant still may.
    const other = await openStream(url, await harness.key('default', ['read']));
    expect(other.status).toBe(200);
    other.close();
    open[0]!.close();
    const again = await eventually(async () => {
      const attempt = await openStream(url, key);
      if (attempt.status !== 200) attempt.close();
      return attempt;
    }, (attempt) => attempt.status === 200);
    for (const stream of [...open, again]) stream.close();
  });

  it('counts per key and per tenant and releases each slot once', () => {
    const limits = new StreamLimits({ perKey: 2, perTenant: 3 });
    const principal = (keyId: string) => ({ keyId, name: keyId, tenant: 'acme', roles: ['read' as const] });
    const releaseA1 = limits.open(principal('a'));
    limits.open(principal('a'));
    expect(() => limits.open(principal('a'))).toThrow(/already holds 2 open event streams/);
    limits.open(principal('b'));
    expect(() => limits.open(principal('c'))).toThrow(/Tenant acme already holds 3/);
    releaseA1();
    releaseA1();
    expect(limits.openFor('a')).toBe(1);
    limits.open(principal('c'));
    expect(() => limits.open(principal('c'))).toThrow(/Tenant acme/);
    expect(() => new StreamLimits({ perKey: 0 })).toThrow(/perKey must be a whole number/);
  });
});

describe('stream caps set on the server', () => {
  it('createKeelServer({ streams }) applies its own per-key cap', async () => {
    const own = await startHarness({ server: { streams: { perKey: 1 } } });
    try {
      const started = (await own.request('/v1/sessions', { body: { agent: 'refunder', task: 'Refund order 1042.' } })).body as View;
      const waiting = await eventually(async () => (await own.request(`/v1/sessions/${started.id}`)).body as View, (view) => view.status === 'waiting-approval');
      const key = await own.key('default', ['read']);
      const first = await openStream(`${own.url}/v1/sessions/${waiting.id}/events`, key);
      expect(first.status).toBe(200);
      const refused = await own.request(`/v1/sessions/${waiting.id}/events`, { key });
      expect(refused.status).toBe(429);
      expect(refused.body).toMatchObject({ error: { code: 'rate-limited', message: expect.stringContaining('already holds 1 open event streams') } });
      first.close();
    } finally {
      await own.close();
    }
  });
});

describe('revoked keys', () => {
  it('closes the open stream of a key revoked while it reads', async () => {
    const waiting = await waitingSession();
    const key = await harness.key('default', ['read']);
    const events: StreamedEvent[] = [];
    const reading = readEventStream(`${harness.url}/v1/sessions/${waiting.id}/events`, { key, onEvent: (event) => void events.push(event) });
    await eventually(async () => events.length, (count) => count >= waiting.lastSeq);
    await harness.server.keys.revoke(keyIdOf(key));
    const result = await reading;
    expect(result).toEqual({ status: 200, ended: true });
    const last = events.at(-1) as StreamedEvent;
    expect(last.event).toBe('error');
    expect(JSON.parse(last.data)).toMatchObject({ code: 'unauthorized', message: expect.stringContaining('was revoked') });
    expect(events.filter((event) => event.event === 'session-event')).toHaveLength(waiting.lastSeq);
  });
});
