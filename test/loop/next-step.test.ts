import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeelError } from '../../src/errors/index.ts';
import { applyEvents, foldEvents, nextStep } from '../../src/loop/index.ts';
import type { NextStep, SessionState, StepInputs } from '../../src/loop/index.ts';
import type { EventBody, SessionEvent } from '../../src/spec/index.ts';
import { generatorTraits, journalArbitrary, journalInputs, sessionStart } from '../helpers/journal-generator.ts';

const stepKinds: ReadonlySet<NextStep['kind']> = new Set([
  'finished', 'stop', 'record-anomalies', 'record-memories', 'cancel', 'start-turn', 'call-model', 'request-tools',
  'decide-tools', 'await-approval', 'run-tools', 'compensate', 'end-compensated', 'complete', 'fail',
]);

const usage = { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 };
const anomaly = { type: 'anomaly' as const, turn: 1, signal: 'turn-count' as const, threshold: 1, value: 2, message: 'many turns' };
const cancelled = new KeelError('cancelled', 'Cancelled by the caller.');
const leaseLost = new KeelError('session-busy', 'Another process holds the session.');

function fold(bodies: readonly EventBody[]): SessionState {
  const start = sessionStart();
  const events = bodies.map((body, index) => ({ ...body, v: 1, sessionId: start.sessionId, seq: index + 2, at: index }) as SessionEvent);
  return applyEvents(foldEvents([start]), events);
}

function withInputs(overrides: Partial<StepInputs>): StepInputs {
  return { ...journalInputs, ...overrides };
}

/** Turn 1: the model asked for `tools`; each call is requested and allowed. */
function callsAllowed(tools: readonly string[]): EventBody[] {
  const content = tools.map((tool, index) => ({ type: 'tool_use' as const, id: `c${index}`, name: tool, input: {} }));
  return [
    { type: 'turn-start', turn: 1 },
    { type: 'model-response', turn: 1, responseId: 'r1', model: 'm', content, stopReason: 'tool_use', providerStopReason: 'tool_use', usage, costUsd: 0, latencyMs: 1, retries: 0 },
    ...content.map((use): EventBody => ({ type: 'tool-request', turn: 1, callId: use.id, tool: use.name, input: {}, idempotencyKey: `k${use.id}` })),
    ...content.map((use): EventBody => ({ type: 'tool-decision', turn: 1, callId: use.id, tool: use.name, decision: 'allow', rule: 'default', reason: 'ok', risk: 'write' })),
  ];
}

const unknownOutcome = (callId: string, tool: string): EventBody => ({
  type: 'tool-error', turn: 1, callId, tool, error: { code: 'tool-outcome-unknown', message: 'unknown', fault: 'tool', retryable: false }, latencyMs: 5000,
});

describe('nextStep: the side steps are steps', () => {
  it('a lost lease stops before anything else is written, anomalies included; a finished session stays finished', () => {
    const state = fold(callsAllowed(['look']));
    expect(nextStep(state, withInputs({ leaseLost, pendingAnomalies: [anomaly], cancellation: cancelled }))).toEqual({ kind: 'stop', error: leaseLost });
    const ended = fold([{ type: 'session-end', status: 'completed', output: 'ok', error: null, turns: 0, usage, costUsd: 0 }]);
    expect(nextStep(ended, withInputs({ leaseLost, pendingAnomalies: [anomaly] }))).toEqual({ kind: 'finished' });
  });

  it('pending anomalies are journaled first, then the cancellation ends the session', () => {
    const state = fold(callsAllowed(['look']));
    expect(nextStep(state, withInputs({ pendingAnomalies: [anomaly], cancellation: cancelled }))).toEqual({ kind: 'record-anomalies', anomalies: [anomaly] });
    expect(nextStep(state, withInputs({ cancellation: cancelled }))).toEqual({ kind: 'cancel', error: cancelled });
  });

  it('memory is recorded for completed calls not yet remembered, and not once the caller cancelled', () => {
    const done = fold([...callsAllowed(['look']), { type: 'tool-result', turn: 1, callId: 'c0', tool: 'look', output: 'seen', latencyMs: 1 }]);
    const memory = { recordToolResults: true, reflects: false, reflectedAfterCalls: 0 };
    expect(nextStep(done, withInputs({ memory }))).toEqual({ kind: 'record-memories' });
    expect(nextStep(done, withInputs({ memory, cancellation: cancelled })).kind).toBe('cancel');
    const remembered = applyEvents(done, [{ type: 'memory-write', turn: 1, reason: 'tool-result', records: [{ id: 'm', kind: 'tool-result', importance: 1, callId: 'c0' }], latencyMs: 1, v: 1, sessionId: done.sessionId, seq: done.lastSeq + 1, at: 9 }]);
    expect(nextStep(remembered, withInputs({ memory })).kind).toBe('start-turn');
    expect(nextStep(remembered, withInputs({ memory: { ...memory, reflects: true } }))).toEqual({ kind: 'record-memories' });
    expect(nextStep(remembered, withInputs({ memory: { ...memory, reflects: true, reflectedAfterCalls: 1 } })).kind).toBe('start-turn');
  });

  it('a compensation phase in progress goes on when the caller cancels again', () => {
    const state = fold([
      ...callsAllowed(['undo']),
      { type: 'tool-result', turn: 1, callId: 'c0', tool: 'undo', output: 'done', latencyMs: 1 },
      { type: 'compensation-request', turn: 1, callId: 'c0', tool: 'undo', idempotencyKey: 'kc', reason: 'failed', endStatus: 'failed', endError: null },
    ]);
    expect(nextStep(state, withInputs({ cancellation: cancelled }))).toMatchObject({ kind: 'compensate', call: { callId: 'c0', outcome: 'completed' } });
  });
});

describe('nextStep: calls of unknown outcome', () => {
  it('are never run again, and the saga compensates them newest first with the completed ones', () => {
    const state = fold([
      ...callsAllowed(['undo', 'undo', 'look']),
      { type: 'tool-result', turn: 1, callId: 'c0', tool: 'undo', output: 'done', latencyMs: 1 },
      unknownOutcome('c1', 'undo'),
      unknownOutcome('c2', 'look'),
    ]);
    expect(state.effectCalls.map((call) => [call.callId, call.outcome])).toEqual([['c0', 'completed'], ['c1', 'unknown'], ['c2', 'unknown']]);
    expect(nextStep(state, journalInputs).kind).toBe('start-turn');
    const saga = applyEvents(state, [{ type: 'compensation-request', turn: 1, callId: 'c1', tool: 'undo', idempotencyKey: 'kc1', reason: 'cancelled', endStatus: 'cancelled', endError: null, v: 1, sessionId: state.sessionId, seq: state.lastSeq + 1, at: 9 }]);
    expect(nextStep(saga, journalInputs)).toMatchObject({ kind: 'compensate', call: { callId: 'c1', outcome: 'unknown', output: null } });
  });

  it('over-cap calls journaled with their tool-call-limit error are neither decided nor run', () => {
    const content = ['c0', 'c1', 'c2'].map((id) => ({ type: 'tool_use' as const, id, name: 'look', input: {} }));
    const state = fold([
      { type: 'turn-start', turn: 1 },
      { type: 'model-response', turn: 1, responseId: 'r1', model: 'm', content, stopReason: 'tool_use', providerStopReason: 'tool_use', usage, costUsd: 0, latencyMs: 1, retries: 0 },
      ...content.map((use): EventBody => ({ type: 'tool-request', turn: 1, callId: use.id, tool: 'look', input: {}, idempotencyKey: `k${use.id}` })),
      { type: 'tool-error', turn: 1, callId: 'c2', tool: 'look', error: { code: 'tool-call-limit', message: 'not run', fault: 'model', retryable: false }, latencyMs: 0 },
    ]);
    expect(nextStep(state, journalInputs)).toEqual({ kind: 'decide-tools', callIds: ['c0', 'c1'] });
  });
});

describe('nextStep over every reachable state (property)', () => {
  it('has exactly one next step: total, deterministic, and finished exactly when the journal has a session-end', () => {
    fc.assert(
      fc.property(journalArbitrary, (events) => {
        for (let length = 1; length <= events.length; length += 1) {
          const state = foldEvents(events.slice(0, length));
          const step = nextStep(state, journalInputs);
          expect(stepKinds.has(step.kind)).toBe(true);
          expect(nextStep(state, journalInputs)).toEqual(step);
          expect(step.kind === 'finished').toBe(state.end !== null);
          if (state.end === null) {
            expect(nextStep(state, withInputs({ leaseLost })).kind).toBe('stop');
            expect(nextStep(state, withInputs({ pendingAnomalies: [anomaly] })).kind).toBe('record-anomalies');
            expect(nextStep(state, withInputs({ cancellation: cancelled })).kind).toBe(state.compensation === null ? 'cancel' : step.kind);
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it('never runs a call that already has an outcome, and compensates only calls that completed or may have run', () => {
    fc.assert(
      fc.property(journalArbitrary, (events) => {
        for (let length = 1; length <= events.length; length += 1) {
          const state = foldEvents(events.slice(0, length));
          const step = nextStep(state, journalInputs);
          if (step.kind === 'run-tools' || step.kind === 'decide-tools') {
            for (const callId of step.callIds) expect(state.toolCalls.get(callId)?.outcome).toBeNull();
          }
          if (step.kind === 'compensate') {
            expect(generatorTraits.compensable.has(step.call.tool)).toBe(true);
            expect(state.effectCalls.some((call) => call.callId === step.call.callId)).toBe(true);
            expect(state.compensation?.results.has(step.call.callId)).toBe(false);
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});
