import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import type { RateLimitStore, RateLimitTakeRequest } from '../../spec/rate-limit-store.ts';
import { FakeClock } from '../../testing/fake-clock.ts';
import { defineTool } from '../define-tool.ts';
import type { DecisionOutcome, ToolInvocation } from '../pipeline/tool-invocation.ts';
import { createMemoryRateLimitStore } from './memory-rate-limit-store.ts';
import { createRateLimitStage } from './rate-limit.ts';

const allowed: DecisionOutcome = { decision: 'allow', rule: 'default', reason: 'No stage objected.' };
const one = { capacity: 1, refillPerSecond: 1 };
const three = { capacity: 3, refillPerSecond: 1 };

function invocation(agent: string, tool: string): ToolInvocation {
  return {
    sessionId: 'ses_1',
    turn: 1,
    callId: 'call_1',
    idempotencyKey: 'idem_1',
    agent: { name: agent, scopes: [] },
    tool: defineTool({ name: tool, description: tool, input: z.object({}), execute: () => 'ok' }),
    input: {},
    signal: new AbortController().signal,
  };
}

describe('in-memory rate-limit store', () => {
  it('takes a token from every bucket asked or from none, and reports each bucket’s wait in order', async () => {
    const store = createMemoryRateLimitStore();
    expect(await store.take({ buckets: [{ key: 'narrow', limit: one }], now: 0 })).toEqual({ allowed: true, retryAfterMs: [0] });

    const both = { buckets: [{ key: 'wide', limit: three }, { key: 'narrow', limit: one }], now: 0 };
    expect(await store.take(both)).toEqual({ allowed: false, retryAfterMs: [0, 1000] });
    expect(await store.take(both)).toEqual({ allowed: false, retryAfterMs: [0, 1000] });
    // The denials took nothing from "wide": its whole burst of three is still there.
    for (let call = 0; call < 3; call += 1) expect((await store.take({ buckets: [{ key: 'wide', limit: three }], now: 0 })).allowed).toBe(true);
    expect(await store.take({ buckets: [{ key: 'wide', limit: three }], now: 0 })).toEqual({ allowed: false, retryAfterMs: [1000] });
    expect(await store.take({ buckets: [{ key: 'narrow', limit: one }], now: 1000 })).toEqual({ allowed: true, retryAfterMs: [0] });
  });

  it('lets two stages (two runtimes of one process) share their limits through one store', async () => {
    const store = createMemoryRateLimitStore();
    const clock = new FakeClock();
    const first = createRateLimitStage({ perAgentTool: { capacity: 2, refillPerSecond: 1 }, perAgent: null, store, clock });
    const second = createRateLimitStage({ perAgentTool: { capacity: 2, refillPerSecond: 1 }, perAgent: null, store, clock });
    const next = vi.fn(async () => allowed);
    expect(await first(invocation('support', 'lookup_order'), next)).toBe(allowed);
    expect(await second(invocation('support', 'lookup_order'), next)).toBe(allowed);
    expect(await second(invocation('support', 'lookup_order'), next)).toMatchObject({ decision: 'deny', rule: 'rate-limit:agent-tool', retryAfterMs: 1000 });
    expect(await first(invocation('support', 'lookup_order'), next)).toMatchObject({ decision: 'deny', retryAfterMs: 1000 });
    expect(next).toHaveBeenCalledTimes(2);
  });

  it('asks a plugged-in store once per call, with keys no agent or tool name can make collide', async () => {
    const requests: RateLimitTakeRequest[] = [];
    const store: RateLimitStore = {
      take: (request) => {
        requests.push(request);
        return Promise.resolve({ allowed: true, retryAfterMs: request.buckets.map(() => 0) });
      },
    };
    const stage = createRateLimitStage({ store, clock: new FakeClock() });
    const next = vi.fn(async () => allowed);
    await stage(invocation('["support","lookup_order"]', 'lookup_order'), next);
    await stage(invocation('support', 'lookup_order'), next);
    const keys = requests.flatMap((request) => request.buckets.map((bucket) => bucket.key));
    expect(requests).toHaveLength(2);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('denies (retry in 1 ms) rather than crashing when a store denies without naming a wait', async () => {
    const store: RateLimitStore = { take: () => Promise.resolve({ allowed: false, retryAfterMs: [0, 0] }) };
    const stage = createRateLimitStage({ store, clock: new FakeClock() });
    const next = vi.fn(async () => allowed);
    expect(await stage(invocation('support', 'lookup_order'), next)).toMatchObject({ decision: 'deny', rule: 'rate-limit:agent-tool', retryAfterMs: 1 });
    expect(next).not.toHaveBeenCalled();
  });
});
