import { describe, expect, it } from 'vitest';
import { foldWaterfall, WaterfallBuilder } from '../../console/src/model/waterfall.ts';
import type { EventBody, SessionEvent } from '../../src/spec/events.ts';

const usage = { inputTokens: 100, outputTokens: 20, cacheReadTokens: 0, cacheWriteTokens: 0 };

/** A journal in seq order, one second apart, from the bodies given. */
function journal(bodies: readonly EventBody[]): SessionEvent[] {
  return bodies.map((body, index) => ({ ...body, v: 1, sessionId: 's1', seq: index + 1, at: 1_000 + index * 1_000 }) as SessionEvent);
}

const start: EventBody = {
  type: 'session-start',
  agent: { name: 'support', instructionsHash: 'h', tools: ['refund'] },
  model: { provider: 'scripted', modelId: 'scripted', spec: 'scripted:x' },
  input: 'Refund order 1042',
  limits: { maxTurns: 10, deadlineAt: null, maxInputTokens: null, maxOutputTokens: null, maxCostUsd: null, maxIdenticalToolCalls: 3 },
};

describe('the console waterfall fold', () => {
  it('draws an open model call until its response, then closes it with tokens and cost on the turn', () => {
    const events = journal([
      start,
      { type: 'turn-start', turn: 1 },
      { type: 'model-request', turn: 1, requestHash: 'r1', provider: 'scripted', model: 'scripted', streaming: true },
      { type: 'model-response', turn: 1, responseId: 'm1', model: 'scripted', content: [], stopReason: 'end_turn', providerStopReason: 'end_turn', usage, costUsd: 0.002, latencyMs: 1000, retries: 0 },
    ]);
    const open = foldWaterfall(events.slice(0, 3));
    expect(open.rows.map((row) => [row.kind, row.state, row.endAt])).toEqual([
      ['turn', 'ok', 2_000],
      ['model', 'running', null],
    ]);
    const closed = foldWaterfall(events);
    const model = closed.rows.find((row) => row.kind === 'model');
    expect(model).toMatchObject({ state: 'ok', startAt: 3_000, endAt: 4_000, inputTokens: 100, outputTokens: 20, costUsd: 0.002 });
    expect(closed.rows[0]).toMatchObject({ kind: 'turn', endAt: 4_000, inputTokens: 100, outputTokens: 20, costUsd: 0.002 });
    expect(closed.totals).toEqual({ inputTokens: 100, outputTokens: 20, costUsd: 0.002, unpricedCalls: 0 });
  });

  it('starts a turn where its context assembly began (the turn-start is journaled after it), never before the session', () => {
    const assemble = (durationMs: number): EventBody => ({ type: 'context-assemble', turn: 1, requestHash: 'r1', messageCount: 1, tokens: { system: 10, tools: 10, history: 10, total: 30 }, tokenCounting: 'estimate', durationMs });
    const short = foldWaterfall(journal([start, { type: 'turn-start', turn: 1 }, assemble(1_500)]));
    expect(short.rows.map((row) => [row.kind, row.startAt, row.endAt])).toEqual([
      ['turn', 1_500, 3_000],
      ['context', 1_500, 3_000],
    ]);
    const long = foldWaterfall(journal([start, { type: 'turn-start', turn: 1 }, assemble(60_000)]));
    expect(long.rows.map((row) => row.startAt)).toEqual([1_000, 1_000]);
  });

  it('marks a call that waits for a person, then shows who approved it with edited arguments', () => {
    const events = journal([
      start,
      { type: 'turn-start', turn: 1 },
      { type: 'tool-request', turn: 1, callId: 'c1', tool: 'refund', input: { amount: 500 }, idempotencyKey: 'k' },
      { type: 'tool-decision', turn: 1, callId: 'c1', tool: 'refund', decision: 'ask', rule: 'risk:irreversible', reason: 'refunds need a person', risk: 'irreversible' },
      { type: 'tool-approval', turn: 1, callId: 'c1', approved: true, approver: 'ops', reason: null, editedInput: { amount: 50 } },
      { type: 'tool-result', turn: 1, callId: 'c1', tool: 'refund', output: 'refunded', latencyMs: 5 },
    ]);
    const waiting = foldWaterfall(events.slice(0, 4));
    expect(waiting.rows[1]).toMatchObject({ kind: 'tool', state: 'awaiting-approval', endAt: null, flags: ['needs approval (risk:irreversible)'] });
    const done = foldWaterfall(events);
    expect(done.rows[1]).toMatchObject({ state: 'ok', endAt: 6_000, detail: 'approved by ops, arguments edited' });
  });

  it('keeps a rejected call rejected when its error result arrives, and lists guard trips and anomalies', () => {
    const events = journal([
      start,
      { type: 'turn-start', turn: 1 },
      { type: 'tool-request', turn: 1, callId: 'c1', tool: 'refund', input: {}, idempotencyKey: 'k' },
      { type: 'tool-decision', turn: 1, callId: 'c1', tool: 'refund', decision: 'ask', rule: 'risk:irreversible', reason: 'r', risk: 'irreversible' },
      { type: 'tool-approval', turn: 1, callId: 'c1', approved: false, approver: 'ops', reason: 'too much' },
      { type: 'tool-error', turn: 1, callId: 'c1', tool: 'refund', error: { code: 'tool-rejected', message: 'rejected', fault: 'policy', retryable: false }, latencyMs: 0 },
      { type: 'anomaly', turn: 1, signal: 'tool-error-rate', threshold: 0.5, value: 1, message: 'every call failed' },
      { type: 'guard-trip', turn: 1, guard: 'max-turns', limit: 1, actual: 2, message: 'too many turns' },
      { type: 'session-end', status: 'failed', output: null, error: { code: 'guard-tripped', message: 'too many turns', fault: 'policy', retryable: false }, turns: 1, usage, costUsd: null },
    ]);
    const waterfall = foldWaterfall(events);
    expect(waterfall.rows[1]).toMatchObject({ state: 'rejected', flags: ['needs approval (risk:irreversible)'] });
    expect(waterfall.markers.map((marker) => [marker.kind, marker.title])).toEqual([
      ['anomaly', 'Anomaly: tool-error-rate'],
      ['guard-trip', 'Guard max-turns tripped'],
    ]);
    expect(waterfall.end).toEqual({ status: 'failed', at: 9_000, output: null, error: 'guard-tripped: too many turns' });
  });

  it('ignores an event it has already folded, so a stream resumed with Last-Event-ID never draws a step twice', () => {
    const events = journal([start, { type: 'turn-start', turn: 1 }, { type: 'tool-request', turn: 1, callId: 'c1', tool: 'refund', input: {}, idempotencyKey: 'k' }]);
    const builder = new WaterfallBuilder();
    expect(events.map((event) => builder.add(event))).toEqual([true, true, true]);
    expect(builder.add(events[1] as SessionEvent)).toBe(false);
    expect(builder.add(events[2] as SessionEvent)).toBe(false);
    expect(builder.snapshot().rows).toHaveLength(2);
    expect(builder.snapshot().lastSeq).toBe(3);
  });

  it('closes every open step at the session end, and says the cost is unknown when a call was unpriced', () => {
    const events = journal([
      start,
      { type: 'turn-start', turn: 1 },
      { type: 'model-request', turn: 1, requestHash: 'r1', provider: 'scripted', model: 'scripted', streaming: false },
      { type: 'model-response', turn: 1, responseId: 'm1', model: 'scripted', content: [], stopReason: 'tool_use', providerStopReason: 'tool_use', usage, costUsd: null, latencyMs: 1000, retries: 1 },
      { type: 'tool-request', turn: 1, callId: 'c1', tool: 'refund', input: {}, idempotencyKey: 'k' },
      { type: 'session-end', status: 'cancelled', output: null, error: null, turns: 1, usage, costUsd: null },
    ]);
    const waterfall = foldWaterfall(events);
    expect(waterfall.rows.find((row) => row.kind === 'tool')?.endAt).toBe(6_000);
    expect(waterfall.rows.find((row) => row.kind === 'model')?.flags).toEqual(['1 retried attempt(s)']);
    expect(waterfall.totals.costUsd).toBeNull();
    expect(waterfall.totals.unpricedCalls).toBe(1);
  });
});
