import { describe, expect, it } from 'vitest';
import type { EventBody, SessionEvent } from '../../src/spec/index.ts';
import { AnomalyDetector, detectAnomalies } from '../../src/tracing/index.ts';
import { handJournal, limits, supportJournal, usage } from './helpers.ts';

function session(): { events: SessionEvent[]; add(body: EventBody): void } {
  const journal = handJournal('ses_anomaly');
  let at = 0;
  journal.add({ type: 'session-start', agent: { name: 'a', instructionsHash: 'h', tools: ['t'] }, model: { provider: 'anthropic', modelId: 'm' }, input: 'x', limits }, at);
  return { events: journal.events, add: (body) => void journal.add(body, (at += 1)) };
}

const outcome = (callId: string, failed: boolean): EventBody =>
  failed
    ? { type: 'tool-error', turn: 1, callId, tool: 't', error: { code: 'tool-failed', message: 'no', fault: 'tool', retryable: false }, latencyMs: 1 }
    : { type: 'tool-result', turn: 1, callId, tool: 't', output: 'ok', latencyMs: 1 };

const context = (turn: number, utilization: number): EventBody => ({ type: 'context-assemble', turn, requestHash: 'r', messageCount: 1, tokens: { system: 0, tools: 0, history: 0, total: 0 }, tokenCounting: 'estimate', durationMs: 0, windowTokens: 1000, utilization });
const response = (turn: number, costUsd: number | null): EventBody => ({ type: 'model-response', turn, responseId: 'r', model: 'm', content: [], stopReason: 'end_turn', providerStopReason: 'end_turn', usage: usage(1, 1), costUsd, latencyMs: 1, retries: 0 });

describe('anomaly signals (seed §12.2)', () => {
  it('turn count: fires when turn 16 starts (more than 15), not at 15, and once', () => {
    const s = session();
    for (let turn = 1; turn <= 15; turn += 1) s.add({ type: 'turn-start', turn });
    expect(detectAnomalies(s.events)).toEqual([]);
    s.add({ type: 'turn-start', turn: 16 });
    const found = detectAnomalies(s.events);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ type: 'anomaly', turn: 16, signal: 'turn-count', threshold: 15, value: 16 });
    expect(found[0]?.message).toMatch(/turn 16/);
    s.add({ type: 'turn-start', turn: 17 });
    expect(detectAnomalies(s.events).map((body) => body.value)).toEqual([16]);
    expect(detectAnomalies(s.events, { maxTurns: 3 })).toMatchObject([{ turn: 4, value: 4, threshold: 3 }]);
  });

  it('tool error rate: needs 4 outcomes, fires above 0.5 and not at 0.5', () => {
    const s = session();
    s.add({ type: 'turn-start', turn: 1 });
    s.add(outcome('a', true));
    s.add(outcome('b', true));
    s.add(outcome('c', true));
    expect(detectAnomalies(s.events)).toEqual([]);
    s.add(outcome('d', true));
    expect(detectAnomalies(s.events)).toMatchObject([{ signal: 'tool-error-rate', threshold: 0.5, value: 1, turn: 1 }]);

    const even = session();
    even.add({ type: 'turn-start', turn: 1 });
    for (const [id, failed] of [['a', true], ['b', false], ['c', true], ['d', false]] as const) even.add(outcome(id, failed));
    expect(detectAnomalies(even.events)).toEqual([]);
    even.add(outcome('e', true));
    expect(detectAnomalies(even.events)).toMatchObject([{ signal: 'tool-error-rate', value: 0.6 }]);
    even.add(outcome('f', true));
    expect(detectAnomalies(even.events)).toHaveLength(1);
  });

  it('repeated tool call: the third identical call (tool and canonical input) fires, in a row or not', () => {
    const s = session();
    s.add({ type: 'turn-start', turn: 1 });
    s.add({ type: 'tool-request', turn: 1, callId: 'a', tool: 't', input: { x: 1, y: [1, 2] }, idempotencyKey: 'k' });
    s.add({ type: 'tool-request', turn: 1, callId: 'b', tool: 't', input: { x: 2 }, idempotencyKey: 'k' });
    s.add({ type: 'tool-request', turn: 1, callId: 'c', tool: 'u', input: { x: 1, y: [1, 2] }, idempotencyKey: 'k' });
    s.add({ type: 'turn-start', turn: 2 });
    s.add({ type: 'tool-request', turn: 2, callId: 'd', tool: 't', input: { y: [1, 2], x: 1 }, idempotencyKey: 'k' });
    expect(detectAnomalies(s.events)).toEqual([]);
    s.add({ type: 'turn-start', turn: 3 });
    s.add({ type: 'tool-request', turn: 3, callId: 'e', tool: 't', input: { x: 1, y: [1, 2] }, idempotencyKey: 'k' });
    expect(detectAnomalies(s.events)).toMatchObject([{ signal: 'repeated-tool-call', threshold: 3, value: 3, turn: 3 }]);
    s.add({ type: 'tool-request', turn: 3, callId: 'f', tool: 't', input: { x: 1, y: [1, 2] }, idempotencyKey: 'k' });
    expect(detectAnomalies(s.events)).toHaveLength(1);
  });

  it('context utilization: fires above 0.7, not at 0.7', () => {
    const s = session();
    s.add({ type: 'turn-start', turn: 1 });
    s.add(context(1, 0.7));
    expect(detectAnomalies(s.events)).toEqual([]);
    s.add({ type: 'turn-start', turn: 2 });
    s.add(context(2, 0.7001));
    expect(detectAnomalies(s.events)).toMatchObject([{ signal: 'context-utilization', threshold: 0.7, value: 0.7001, turn: 2 }]);
    s.add(context(2, 0.9));
    expect(detectAnomalies(s.events)).toHaveLength(1);
  });

  it('cost: off without a budget; fires when the running cost goes over it, not at it', () => {
    const s = session();
    s.add({ type: 'turn-start', turn: 1 });
    s.add(response(1, 0.25));
    s.add(response(1, null));
    s.add(response(1, 0.25));
    expect(detectAnomalies(s.events)).toEqual([]);
    expect(detectAnomalies(s.events, { costBudgetUsd: 0.5 })).toEqual([]);
    s.add({ type: 'turn-start', turn: 2 });
    s.add(response(2, 0.01));
    expect(detectAnomalies(s.events, { costBudgetUsd: 0.5 })).toMatchObject([{ signal: 'cost-over-budget', threshold: 0.5, value: 0.51, turn: 2 }]);
    expect(detectAnomalies(s.events)).toEqual([]);
  });

  it('returns only signals not journaled yet', () => {
    const events = supportJournal();
    // The journal already has its context-utilization anomaly; lookup {id: 1} twice is under 3.
    expect(detectAnomalies(events)).toEqual([]);
    expect(detectAnomalies(events, { maxIdenticalToolCalls: 2, minToolCallsForErrorRate: 3 })).toMatchObject([
      { signal: 'repeated-tool-call', turn: 2, value: 2 },
      { signal: 'tool-error-rate', turn: 2, value: 0.666667 },
    ]);
    const withoutJournaled = events.filter((event) => event.type !== 'anomaly');
    expect(detectAnomalies(withoutJournaled).map((body) => body.signal)).toEqual(['context-utilization']);
  });

  it('the incremental detector gives the same signals, event by event, and respects journaled ones', () => {
    const events = supportJournal().filter((event) => event.type !== 'anomaly');
    const detector = new AnomalyDetector({ maxIdenticalToolCalls: 2, minToolCallsForErrorRate: 3 });
    const seen = events.flatMap((event) => detector.push(event));
    expect(seen).toEqual(detectAnomalies(events, { maxIdenticalToolCalls: 2, minToolCallsForErrorRate: 3 }));
    const resumed = new AnomalyDetector();
    expect(resumed.preload(supportJournal())).toEqual([]);
    expect(resumed.push({ ...events[0], seq: 99, type: 'context-assemble', turn: 4, requestHash: 'r', messageCount: 1, tokens: { system: 0, tools: 0, history: 0, total: 0 }, tokenCounting: 'estimate', durationMs: 0, utilization: 0.99 } as SessionEvent)).toEqual([]);
    const crashed = new AnomalyDetector();
    expect(crashed.preload(events).map((body) => body.signal)).toEqual(['context-utilization']);
  });
});
