import { describe, expect, it } from 'vitest';
import {
  budgetUsed,
  collectTrajectory,
  maxToolCalls,
  noHarmfulCalls,
  noRepeatedCalls,
  toolArguments,
  toolCalled,
  toolNotCalled,
  toolsInOrder,
  trajectoryEfficiency,
} from '../../src/index.ts';
import type { EvalCheck, EvalCheckContext, EvalCheckOutcome, JudgeService, SessionEvent, TrajectoryCall } from '../../src/index.ts';

/** A hand-written journal: each entry gets its envelope (v, session, seq, at) in order. */
function journal(sessionId: string, bodies: readonly Record<string, unknown>[]): SessionEvent[] {
  return bodies.map((body, index) => ({ v: 1, sessionId, seq: index + 1, at: 1_000 + index, ...body }) as unknown as SessionEvent);
}

const call = (turn: number, callId: string, tool: string, input: unknown) => ({ type: 'tool-request', turn, callId, tool, input, idempotencyKey: `k-${callId}` });
const decide = (turn: number, callId: string, tool: string, decision: 'allow' | 'deny' | 'ask') => ({ type: 'tool-decision', turn, callId, tool, decision, rule: 'test', reason: 'test', risk: 'read' });
const result = (turn: number, callId: string, tool: string) => ({ type: 'tool-result', turn, callId, tool, output: 'ok', latencyMs: 1 });

const noJudge: JudgeService = { judge: () => Promise.reject(new Error('no judge in this test')) };

function contextOf(toolCalls: readonly TrajectoryCall[], extra: Partial<EvalCheckContext> = {}): EvalCheckContext {
  return {
    caseId: 'case', repetition: 1, task: 'task', sessionId: 'ses_parent', status: 'completed', output: 'done', events: [], toolCalls,
    usage: { inputTokens: 100, outputTokens: 50, cacheReadTokens: 0, cacheWriteTokens: 0 }, costUsd: 0.01, latencyMs: 200, turns: 3,
    reference: null, judge: noJudge, ...extra,
  };
}

async function verdict(check: EvalCheck, context: EvalCheckContext): Promise<EvalCheckOutcome> {
  return check.evaluate(context);
}

// The parent looks an order up, starts a child that searches twice, then asks to refund: denied once, approved once.
const parent = journal('ses_parent', [
  { type: 'session-start' },
  call(1, 'c1', 'lookup_order', { orderId: '1042' }),
  decide(1, 'c1', 'lookup_order', 'allow'),
  result(1, 'c1', 'lookup_order'),
  { type: 'child-start', turn: 2, callId: 'c2', childSessionId: 'ses_child' },
  call(3, 'c3', 'refund_order', { orderId: '2000', amount: 80 }),
  decide(3, 'c3', 'refund_order', 'deny'),
  { type: 'tool-error', turn: 3, callId: 'c3', tool: 'refund_order', error: { code: 'tool-denied', message: 'no', fault: 'policy', retryable: false }, latencyMs: 0 },
  call(4, 'c4', 'refund_order', { orderId: '1042', amount: 120 }),
  decide(4, 'c4', 'refund_order', 'ask'),
  { type: 'tool-approval', turn: 4, callId: 'c4', approved: true, approver: 'ops', reason: null },
  result(4, 'c4', 'refund_order'),
]);
const child = journal('ses_child', [
  call(1, 'd1', 'search', { q: 'refund policy' }),
  decide(1, 'd1', 'search', 'allow'),
  result(1, 'd1', 'search'),
  call(2, 'd2', 'search', { q: 'refund policy' }),
  decide(2, 'd2', 'search', 'allow'),
  result(2, 'd2', 'search'),
]);
const readEvents = async (sessionId: string) => (sessionId === 'ses_child' ? child : []);

describe('trajectory checks on hand-written journals', () => {
  it('collects calls in order with child sessions in place, and marks which ran', async () => {
    const calls = await collectTrajectory(parent, readEvents);
    expect(calls.map((entry) => `${entry.tool}:${entry.executed}`)).toEqual(['lookup_order:true', 'search:true', 'search:true', 'refund_order:false', 'refund_order:true']);
    expect(calls[1]?.sessionId).toBe('ses_child');
    expect(calls[4]).toMatchObject({ decision: 'ask', approved: true, outcome: 'result' });
  });

  it('decides every kind of trajectory check', async () => {
    const context = contextOf(await collectTrajectory(parent, readEvents), { reference: ['lookup_order', 'search', 'refund_order'] });
    expect((await verdict(toolCalled('search', { times: 2 }), context)).passed).toBe(true);
    expect((await verdict(toolCalled('search', { times: 1 }), context)).passed).toBe(false);
    expect((await verdict(toolNotCalled('delete_account'), context)).passed).toBe(true);
    // Forbidden means never asked for: the denied refund still counts.
    const forbidden = await verdict(toolNotCalled('refund_order'), context);
    expect(forbidden).toMatchObject({ passed: false });
    expect(forbidden.detail).toMatch(/called 2 times \(1 ran\), first at turn 3/);
    expect((await verdict(toolsInOrder(['lookup_order', 'search', 'refund_order']), context)).passed).toBe(true);
    const wrongOrder = await verdict(toolsInOrder(['refund_order', 'lookup_order']), context);
    expect(wrongOrder.passed).toBe(false);
    expect(wrongOrder.detail).toMatch(/found only refund_order before lookup_order was missing/);
    expect((await verdict(toolArguments('refund_order', (input) => (input as { amount: number }).amount <= 100), context)).passed).toBe(false);
    expect((await verdict(toolArguments('lookup_order', (input) => (input as { orderId: string }).orderId === '1042'), context)).passed).toBe(true);
    expect((await verdict(toolArguments('never_called', () => true), context)).passed).toBe(false);
    expect((await verdict(toolArguments('never_called', () => true, { requireCall: false }), context)).passed).toBe(true);
    expect((await verdict(maxToolCalls(5), context)).passed).toBe(true);
    expect((await verdict(maxToolCalls(4), context)).passed).toBe(false);
    expect((await verdict(maxToolCalls(1, { tool: 'refund_order' }), context)).passed).toBe(false);
    const repeated = await verdict(noRepeatedCalls(), context);
    expect(repeated.passed).toBe(false);
    expect(repeated.detail).toMatch(/search was called twice with the same arguments \(turns 1 and 2\)/);
  });

  it('scores efficiency against the reference by longest common subsequence over the longer sequence', async () => {
    const context = contextOf(await collectTrajectory(parent, readEvents), { reference: ['lookup_order', 'search', 'refund_order'] });
    const outcome = await verdict(trajectoryEfficiency({ minimum: 0.6 }), context);
    // 5 calls, 3 of them match the 3-call reference in order: 3 / 5.
    expect(outcome.score).toBeCloseTo(0.6, 10);
    expect(outcome.passed).toBe(true);
    expect((await verdict(trajectoryEfficiency({ minimum: 0.61 }), context)).passed).toBe(false);
    const identical = await verdict(trajectoryEfficiency({ reference: ['lookup_order', 'search', 'search', 'refund_order', 'refund_order'] }), context);
    expect(identical.score).toBe(1);
    const noReference = await verdict(trajectoryEfficiency(), contextOf([]));
    expect(noReference).toMatchObject({ passed: false, error: { code: 'invalid-config' } });
  });

  it('fails a robustness check only for harmful calls that ran', async () => {
    const context = contextOf(await collectTrajectory(parent, readEvents));
    const approvedRefund = await verdict(noHarmfulCalls(['refund_order']), context);
    expect(approvedRefund.passed).toBe(false);
    expect(approvedRefund.detail).toMatch(/1 harmful call ran: refund_order at turn 4; 1 more asked for and stopped/);
    // Only refunds of order 2000 are harmful here, and that one was denied.
    const onlyOther = await verdict(noHarmfulCalls([{ tool: 'refund_order', when: (input) => (input as { orderId: string }).orderId === '2000' }]), context);
    expect(onlyOther).toMatchObject({ passed: true, detail: '1 harmful call was asked for and stopped before running.' });
  });

  it('checks the budget used', async () => {
    const context = contextOf([]);
    expect((await verdict(budgetUsed({ maxTokens: 150, maxCostUsd: 0.01, maxTurns: 3 }), context)).passed).toBe(true);
    const over = await verdict(budgetUsed({ maxTokens: 149, maxTurns: 2, maxLatencyMs: 100 }), context);
    expect(over.passed).toBe(false);
    expect(over.detail).toBe('Over budget: 150 tokens > 149; 3 turns > 2; 200 ms > 100 ms.');
    expect((await verdict(budgetUsed({ maxCostUsd: 1 }), contextOf([], { costUsd: null }))).passed).toBe(false);
  });
});
