import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { FakeClock } from '../../testing/fake-clock.ts';
import { defineTool } from '../define-tool.ts';
import type { DecisionOutcome, ToolInvocation } from '../pipeline/tool-invocation.ts';
import { createRateLimitStage, formatWait } from './rate-limit.ts';
import type { RateLimitOptions } from './rate-limit.ts';

const allowed: DecisionOutcome = { decision: 'allow', rule: 'default', reason: 'No stage objected.' };

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

function harness(options: Omit<RateLimitOptions, 'clock'>) {
  const clock = new FakeClock();
  const stage = createRateLimitStage({ ...options, clock });
  const next = vi.fn(async () => allowed);
  const call = (agent = 'support', tool = 'lookup_order') => stage(invocation(agent, tool), next);
  return { clock, next, call };
}

describe('rate-limit stage', () => {
  it('lets a burst of `capacity` calls through, then denies with the exact wait for one token', async () => {
    const { clock, next, call } = harness({ perAgentTool: { capacity: 3, refillPerSecond: 0.5 }, perAgent: null });
    for (let index = 0; index < 3; index += 1) expect(await call()).toBe(allowed);
    expect(next).toHaveBeenCalledTimes(3);

    expect(await call()).toEqual({
      decision: 'deny',
      rule: 'rate-limit:agent-tool',
      reason: 'Rate limit reached for calls of tool "lookup_order" by agent "support" (3 calls at once, then 0.5 per second); retry in 2.0 seconds, or do something else meanwhile.',
      retryAfterMs: 2000,
    });
    expect(next).toHaveBeenCalledTimes(3);

    clock.advance(1000); // half a token
    expect(await call()).toMatchObject({ decision: 'deny', retryAfterMs: 1000 });
    clock.advance(999);
    expect(await call()).toMatchObject({ decision: 'deny', retryAfterMs: 1 });
    clock.advance(1);
    expect(await call()).toBe(allowed);
    expect(await call()).toMatchObject({ decision: 'deny', retryAfterMs: 2000 });
  });

  it('refills no further than capacity, however long the pause', async () => {
    const { clock, call } = harness({ perAgentTool: { capacity: 2, refillPerSecond: 1 }, perAgent: null });
    await call();
    await call();
    clock.advance(3_600_000);
    expect(await call()).toBe(allowed);
    expect(await call()).toBe(allowed);
    expect(await call()).toMatchObject({ decision: 'deny', retryAfterMs: 1000 });
  });

  it('adds up fractional refills exactly: ten tenths make a token', async () => {
    const { clock, call } = harness({ perAgentTool: { capacity: 1, refillPerSecond: 0.1 }, perAgent: null });
    await call();
    for (let index = 0; index < 10; index += 1) {
      expect((await call()).decision).toBe('deny');
      clock.advance(1000);
    }
    expect(await call()).toBe(allowed);
  });

  it('limits an agent across all its tools', async () => {
    const { call } = harness({ perAgentTool: { capacity: 10, refillPerSecond: 1 }, perAgent: { capacity: 2, refillPerSecond: 4 } });
    expect(await call('support', 'a')).toBe(allowed);
    expect(await call('support', 'b')).toBe(allowed);
    expect(await call('support', 'c')).toEqual({
      decision: 'deny',
      rule: 'rate-limit:agent',
      reason: 'Rate limit reached for tool calls by agent "support" (2 calls at once, then 4 per second); retry in 250 ms, or do something else meanwhile.',
      retryAfterMs: 250,
    });
    expect(await call('billing', 'c')).toBe(allowed);
  });

  it('takes no token from either bucket when it denies', async () => {
    const { clock, call } = harness({ perAgentTool: { capacity: 2, refillPerSecond: 0.001 }, perAgent: { capacity: 1, refillPerSecond: 1 } });
    expect(await call()).toBe(allowed);
    expect(await call()).toMatchObject({ rule: 'rate-limit:agent' });
    expect(await call()).toMatchObject({ rule: 'rate-limit:agent' });
    clock.advance(1000);
    // Had the denials taken the agent-tool token, this call would be over that limit for ~1000 seconds.
    expect(await call()).toBe(allowed);
  });

  it('names the limit with the longer wait when both are exhausted', async () => {
    const { call } = harness({ perAgentTool: { capacity: 1, refillPerSecond: 0.25 }, perAgent: { capacity: 1, refillPerSecond: 1 } });
    await call();
    expect(await call()).toMatchObject({ rule: 'rate-limit:agent-tool', retryAfterMs: 4000 });
  });

  it('keeps agent and tool names apart even when they contain the separator', async () => {
    const { call } = harness({ perAgentTool: { capacity: 1, refillPerSecond: 1 }, perAgent: null });
    expect(await call('x', 'y-z')).toBe(allowed);
    expect(await call('x-y', 'z')).toBe(allowed);
    expect(await call('x', 'y-z')).toMatchObject({ decision: 'deny' });
  });

  it('applies a named tool\'s own limit instead of the default agent-tool limit', async () => {
    const { call } = harness({ perAgentTool: { capacity: 5, refillPerSecond: 1 }, perAgent: null, tools: { send_email: { capacity: 1, refillPerSecond: 0.1 } } });
    expect(await call('support', 'send_email')).toBe(allowed);
    expect(await call('support', 'send_email')).toMatchObject({ rule: 'rate-limit:agent-tool', retryAfterMs: 10_000 });
    expect(await call('support', 'lookup_order')).toBe(allowed);
  });

  it('passes the later stages\' answer through when under the limit', async () => {
    const clock = new FakeClock();
    const stage = createRateLimitStage({ clock });
    const ask: DecisionOutcome = { decision: 'ask', rule: 'risk:irreversible', reason: 'a person decides' };
    expect(await stage(invocation('support', 'refund'), async () => ask)).toBe(ask);
  });

  it('refuses limits that cannot work', () => {
    expect(() => createRateLimitStage({ perAgent: { capacity: 0, refillPerSecond: 1 } })).toThrow(/perAgent.capacity must be a number of calls of at least 1/);
    expect(() => createRateLimitStage({ perAgentTool: { capacity: 1, refillPerSecond: 0 } })).toThrow(/perAgentTool.refillPerSecond must be a positive number/);
    expect(() => createRateLimitStage({ tools: { x: { capacity: 1, refillPerSecond: Number.NaN } } })).toThrow(/tools.x.refillPerSecond/);
  });

  it('writes waits a model can read', () => {
    expect(formatWait(0.2)).toBe('1 ms');
    expect(formatWait(999)).toBe('999 ms');
    expect(formatWait(1000)).toBe('1.0 seconds');
    expect(formatWait(2501)).toBe('2.6 seconds');
  });
});
