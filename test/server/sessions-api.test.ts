import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHarness } from './server-harness.ts';
import type { Harness } from './server-harness.ts';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => {
  await harness?.close();
});

describe('sessions over HTTP', () => {
  it('starts a session, reads it, and lists it', async () => {
    const started = await harness.request('/v1/sessions', { body: { agent: 'echo', task: 'Say hello.' } });
    if (started.status !== 201) console.log(JSON.stringify(started.body), harness.logs.join(''));
    expect(started.status).toBe(201);
    const session = started.body as { id: string; status: string; tenant: string; lastSeq: number };
    expect(session.tenant).toBe('default');
    expect(session.lastSeq).toBeGreaterThan(0);
    const done = await eventually(async () => (await harness.request(`/v1/sessions/${session.id}`)).body as { status: string; output: string | null }, (view) => view.status === 'completed');
    expect(done.output).toBe('Hello from echo.');
    const list = await harness.request('/v1/sessions?agent=echo');
    expect((list.body as { sessions: { id: string }[] }).sessions.map((entry) => entry.id)).toContain(session.id);
  });
});
