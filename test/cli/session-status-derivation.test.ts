import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import refundAgent from '../fixtures/agents/refund-agent.ts';
import { foldEvents } from '../../src/loop/index.ts';
import { createKeel } from '../../src/runtime/index.ts';
import { deriveSessionStatus, statusFromEvents } from '../../src/runtime/session-status.ts';
import type { SessionEvent } from '../../src/spec/events.ts';
import type { SessionLeaseRecord } from '../../src/spec/session-lease.ts';
import { createMemoryJournal, createMemorySessionLeaseStore } from '../../src/store/index.ts';
import { root } from './run-cli.ts';

/** The journal of a real session that stopped at a call waiting for approval. */
async function waitingSessionEvents(): Promise<readonly SessionEvent[]> {
  const keel = createKeel({ database: ':memory:', model: `scripted:${join(root, 'test/fixtures/agents/refund-model.json')}`, env: {} });
  try {
    const result = await keel.run(refundAgent, {}).result;
    expect(result.status).toBe('awaiting-approval');
    return await keel.events(result.sessionId);
  } finally {
    await keel.close();
  }
}

const lease = (expiresAt: number): SessionLeaseRecord => ({ sessionId: 'ses_x', owner: 'host:1:abc', acquiredAt: 0, expiresAt, fence: 1 });

describe('deriveSessionStatus: one status for people, from the journal and the lease', () => {
  it('waiting-approval with the calls; running while a live lease is held; interrupted without either; ended as ended', async () => {
    const events = await waitingSessionEvents();
    const state = foldEvents(events);
    const waiting = deriveSessionStatus({ state, lease: undefined, now: 1_000 });
    expect(waiting.status).toBe('waiting-approval');
    expect(waiting.waiting.map((call) => [call.callId, call.tool])).toEqual([['toolu_refund', 'refund']]);

    expect(deriveSessionStatus({ state, lease: lease(2_000), now: 1_000 }).status).toBe('running');
    // An expired lease is a process that stopped renewing it: it does not make the session running.
    expect(deriveSessionStatus({ state, lease: lease(1_000), now: 1_000 }).status).toBe('waiting-approval');

    const beforeDecision = foldEvents(events.slice(0, events.findIndex((event) => event.type === 'tool-request') + 1));
    expect(deriveSessionStatus({ state: beforeDecision, lease: undefined, now: 1_000 }).status).toBe('interrupted');
    expect(deriveSessionStatus({ state: beforeDecision, lease: lease(2_000), now: 1_000 }).status).toBe('running');

    const last = events[events.length - 1]!;
    const ended = foldEvents([...events, { v: last.v, sessionId: last.sessionId, seq: last.seq + 1, at: last.at, type: 'session-end', status: 'cancelled', output: null, error: null, turns: 1, usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }, costUsd: 0 } as SessionEvent]);
    expect(deriveSessionStatus({ state: ended, lease: lease(2_000), now: 1_000 }).status).toBe('cancelled');
  });

  it('statusFromEvents reads the lease from a lease store', async () => {
    const events = await waitingSessionEvents();
    const sessionId = events[0]!.sessionId;
    const leases = createMemorySessionLeaseStore();
    const sources = { journal: createMemoryJournal(), leases, now: Date.now };
    expect((await statusFromEvents(sources, events)).status).toBe('waiting-approval');
    await leases.acquire({ sessionId, owner: 'other-process', ttlMs: 60_000 });
    const view = await statusFromEvents(sources, events);
    expect(view.status).toBe('running');
    expect(view.lease?.owner).toBe('other-process');
    await leases.release(sessionId, 'other-process');
    expect((await statusFromEvents(sources, events)).status).toBe('waiting-approval');
  });
});
