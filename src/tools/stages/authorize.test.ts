import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { FakeClock } from '../../testing/fake-clock.ts';
import { defineTool } from '../define-tool.ts';
import type { ToolRisk } from '../define-tool.ts';
import { createToolPipeline } from '../pipeline/tool-pipeline.ts';
import type { DecisionOutcome, ToolInvocation } from '../pipeline/tool-invocation.ts';
import { createAuthorizeStage } from './authorize.ts';
import { createRateLimitStage } from './rate-limit.ts';

function invocation(risk: ToolRisk, scopes: readonly string[], input: unknown = {}): ToolInvocation {
  return {
    sessionId: 'ses_1',
    turn: 1,
    callId: 'call_1',
    idempotencyKey: 'idem_1',
    agent: { name: 'support', scopes },
    tool: defineTool({ name: 'issue_refund', description: 'refund', input: z.object({ amount: z.number() }), risk, scopes: ['payments:refund'], execute: () => 'ok' }),
    input,
    signal: new AbortController().signal,
  };
}

const allow: DecisionOutcome = { decision: 'allow', rule: 'default', reason: 'No stage objected.' };
const rateLimited: DecisionOutcome = { decision: 'deny', rule: 'rate-limit:agent', reason: 'retry in 1.0 seconds' };

describe('authorize stage', () => {
  it('denies without running later stages, so a refused call spends no rate-limit token', async () => {
    const next = vi.fn(async () => allow);
    const outcome = await createAuthorizeStage()(invocation('write', []), next);
    expect(outcome).toMatchObject({ decision: 'deny', rule: 'scope:payments:refund' });
    expect(next).not.toHaveBeenCalled();
  });

  it('keeps its own verdict when the later stages allow', async () => {
    const stage = createAuthorizeStage();
    expect(await stage(invocation('write', ['payments:refund']), async () => allow)).toMatchObject({ decision: 'allow', rule: 'default' });
    expect(await stage(invocation('irreversible', ['payments:refund']), async () => allow)).toMatchObject({ decision: 'ask', rule: 'risk:irreversible' });
  });

  it('lets a stricter later answer win: an ask over its rate limit is denied', async () => {
    const stage = createAuthorizeStage();
    expect(await stage(invocation('irreversible', ['payments:refund']), async () => rateLimited)).toBe(rateLimited);
    const later: DecisionOutcome = { decision: 'ask', rule: 'provenance', reason: 'arguments came from a web page' };
    expect(await stage(invocation('write', ['payments:refund']), async () => later)).toBe(later);
  });

  it('accepts policy options or a built policy', async () => {
    const stage = createAuthorizeStage({ rules: [{ name: 'big-refunds', when: (input) => (input as { amount: number }).amount > 100, decision: 'ask', reason: 'over 100' }] });
    expect(await stage(invocation('write', ['payments:refund'], { amount: 500 }), async () => allow)).toMatchObject({ decision: 'ask', rule: 'big-refunds' });
  });

  it('runs in the pipeline: a scope denial and a rate-limit denial reach the model with their codes', async () => {
    const clock = new FakeClock();
    const pipeline = createToolPipeline({
      decideStages: [createAuthorizeStage(), createRateLimitStage({ clock, perAgentTool: { capacity: 1, refillPerSecond: 1 }, perAgent: null })],
    });
    const tool = invocation('write', []).tool;
    const request = (scopes: readonly string[]) => ({
      sessionId: 'ses_1',
      turn: 1,
      idempotencyKey: 'idem_1',
      agent: { name: 'support', scopes },
      call: { type: 'tool_use' as const, id: 'call_1', name: 'issue_refund', input: { amount: 5 } },
      tool,
      availableTools: ['issue_refund'],
      signal: new AbortController().signal,
    });
    const denied = await pipeline.decide(request([]));
    expect(denied.error?.code).toBe('tool-denied');
    expect(denied.error?.message).toContain('grant it in defineAgent({ scopes })');
    expect((await pipeline.decide(request(['payments:refund']))).decision).toBe('allow');
    const limited = await pipeline.decide(request(['payments:refund']));
    expect(limited.error?.code).toBe('tool-rate-limited');
    expect(limited.reason).toContain('retry in 1.0 seconds');
  });
});
