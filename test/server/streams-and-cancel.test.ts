import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startHarness } from './server-harness.ts';
import type { Harness } from './server-harness.ts';
import { readEventStream } from './sse-client.ts';

// The booker books a slot (a compensable write), then its second model call waits: long for the cancel test, a
// little for the stream test, so both see a session that is still running.
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

async function journalTypes(sessionId: string): Promise<string[]> {
  const page = (await harness.request(`/v1/sessions/${sessionId}/journal`)).body as { events: { type: string }[] };
  return page.events.map((event) => event.type);
}

describe('event streams', () => {
  it('resumes from Last-Event-ID after a dropped connection with no lost and no repeated event', async () => {
    bookerDelayMs = 600;
    const started = (await harness.request('/v1/sessions', { body: { agent: 'booker', task: 'Book tuesday.' } })).body as View;
    const seen: number[] = [];
    const url = `${harness.url}/v1/sessions/${started.id}/events`;
    // First connection: dropped by the client after three events.
    const first = await readEventStream(url, { key: harness.adminKey, onEvent: (event) => {
      if (event.event === 'session-event') seen.push(Number(event.id));
      return seen.length < 3;
    } });
    expect(first).toEqual({ status: 200, ended: false });
    expect(seen).toEqual([1, 2, 3]);
    // Second connection resumes after the last id seen and reads to the end.
    let end: { status: string } | null = null;
    const second = await readEventStream(url, { key: harness.adminKey, lastEventId: seen.at(-1) as number, onEvent: (event) => {
      if (event.event === 'session-event') {
        const parsed = JSON.parse(event.data) as { seq: number };
        expect(String(parsed.seq)).toBe(event.id);
        seen.push(parsed.seq);
      }
      if (event.event === 'end') end = JSON.parse(event.data) as { status: string };
    } });
    expect(second.ended).toBe(true);
    expect(end).toMatchObject({ status: 'completed' });
    const journal = await journalTypes(started.id);
    expect(seen).toEqual(journal.map((_type, index) => index + 1));
    expect(journal.at(-1)).toBe('session-end');

    // A client that already saw everything still gets `end` (and nothing else) on reconnect.
    const replayed: string[] = [];
    await readEventStream(url, { key: harness.adminKey, lastEventId: journal.length, onEvent: (event) => void replayed.push(event.event) });
    expect(replayed).toEqual(['end']);
    // The ?after= query does the same as the header.
    const afterQuery: number[] = [];
    await readEventStream(`${url}?after=${journal.length - 2}`, { key: harness.adminKey, onEvent: (event) => void (event.event === 'session-event' && afterQuery.push(Number(event.id))) });
    expect(afterQuery).toEqual([journal.length - 1, journal.length]);
  });

  it('refuses a Last-Event-ID that is not a sequence number', async () => {
    const started = (await harness.request('/v1/sessions', { body: { agent: 'echo', task: 'Hi.' } })).body as View;
    const response = await harness.request(`/v1/sessions/${started.id}/events`, { headers: { 'last-event-id': 'abc' } });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ error: { code: 'invalid-argument' } });
  });
});

describe('cancel', () => {
  it('aborts a slow model call, runs compensations, and ends the session cancelled', async () => {
    bookerDelayMs = 60_000;
    const started = (await harness.request('/v1/sessions', { body: { agent: 'booker', task: 'Book tuesday.' } })).body as View;
    // Wait until the booking is done and the second model call has started (and hangs).
    await eventually(() => journalTypes(started.id), (types) => types.includes('tool-result') && types.at(-1) === 'model-request');
    const cancelled = await harness.request(`/v1/sessions/${started.id}/cancel`, { method: 'POST' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ session: { id: started.id, status: 'cancelled', error: { code: 'cancelled' } } });
    expect(harness.abortedCalls).toContain('call 2');
    expect(harness.effects.booked).toContain('tuesday-9');
    expect(harness.effects.released).toEqual(['tuesday-9']);
    const types = await journalTypes(started.id);
    expect(types).toContain('compensation-request');
    expect(types).toContain('compensation-result');
    expect(types.at(-1)).toBe('session-end');
    // Cancelling again is a conflict: the session has ended.
    const again = await harness.request(`/v1/sessions/${started.id}/cancel`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ error: { code: 'session-finished' } });
  });

  it('cancels a session that waits for approval', async () => {
    const created = (await harness.request('/v1/sessions', { body: { agent: 'refunder', task: 'Refund 1042.' } })).body as View;
    // The POST answers once the session's first event is journaled; the approval request follows in the background.
    const started = await eventually(async () => (await harness.request(`/v1/sessions/${created.id}`)).body as View, (view) => view.status !== 'running');
    expect(started.status).toBe('waiting-approval');
    const cancelled = await harness.request(`/v1/sessions/${started.id}/cancel`, { method: 'POST' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ session: { status: 'cancelled' } });
    expect(harness.effects.refunds).toEqual([]);
  });
});
