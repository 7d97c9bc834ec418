import fc from 'fast-check';
import { applyEvents, initialState, nextStep } from '../../src/loop/index.ts';
import type { SessionState, StepInputs, ToolTraits } from '../../src/loop/index.ts';
import { currentEventVersion } from '../../src/spec/index.ts';
import type { ContentBlock, EventBody, SessionEvent, SessionStartEvent, StopReason } from '../../src/spec/index.ts';

/** Tool `undo` is compensable, `boom` is critical, `look` is neither. */
export const generatorTraits: ToolTraits = { compensable: new Set(['undo']), critical: new Set(['boom']) };

export const journalInputs: StepInputs = { traits: generatorTraits, pendingAnomalies: [], cancellation: null, leaseLost: null, memory: null };

const tools = ['undo', 'boom', 'look'] as const;
const stopReasons: readonly StopReason[] = ['end_turn', 'tool_use', 'max_tokens', 'pause_turn', 'refusal', 'stop_sequence'];
const usage = { inputTokens: 10, outputTokens: 5, cacheReadTokens: 0, cacheWriteTokens: 0 };
const error = (code: string): { code: string; message: string; fault: string; retryable: boolean } => ({ code, message: code, fault: 'tool', retryable: false });

export function sessionStart(sessionId = 'ses_gen'): SessionStartEvent {
  return {
    v: currentEventVersion,
    sessionId,
    seq: 1,
    at: 0,
    type: 'session-start',
    agent: { name: 'gen', instructionsHash: 'h', tools: [...tools] },
    model: { provider: 'test', modelId: 'test-model' },
    input: 'task',
    limits: { maxTurns: 6, deadlineAt: null, maxInputTokens: null, maxOutputTokens: null, maxCostUsd: null, maxIdenticalToolCalls: 99 },
  };
}

/** A stream of choices; each one picks among the options of the state the journal has reached. */
class Choices {
  private index = 0;
  private readonly values: readonly number[];
  constructor(values: readonly number[]) {
    this.values = values;
  }
  pick(options: number): number {
    const value = this.values[this.index % this.values.length] ?? 0;
    this.index += 1;
    return value % options;
  }
}

function endBodies(state: SessionState, status: 'completed' | 'failed' | 'cancelled'): EventBody[] {
  return [{ type: 'session-end', status, output: status === 'completed' ? 'done' : null, error: status === 'completed' ? null : error(status), turns: state.turn, usage: state.usage, costUsd: state.costUsd }];
}

/** A response of the current turn: some text, and up to three tool calls with ids unique in the session. */
function response(state: SessionState, choices: Choices): EventBody {
  const calls = choices.pick(4);
  const content: ContentBlock[] = [{ type: 'text', text: `turn ${state.turn}` }];
  for (let index = 0; index < calls; index += 1) {
    content.push({ type: 'tool_use', id: `c${state.turn}_${index}`, name: tools[choices.pick(tools.length)] ?? 'look', input: { n: choices.pick(3) } });
  }
  const stopReason = calls > 0 ? 'tool_use' : (stopReasons[choices.pick(stopReasons.length)] ?? 'end_turn');
  return { type: 'model-response', turn: state.turn, responseId: `r${state.turn}`, model: 'test-model', content, stopReason, providerStopReason: stopReason, usage, costUsd: 0.001, latencyMs: 1, retries: 0 };
}

/** A fact that may come between any two steps: an anomaly, a memory write, a guard trip, or the caller's cancellation. */
function interruption(state: SessionState, choices: Choices): EventBody[] | null {
  switch (choices.pick(12)) {
    case 0:
      return [{ type: 'anomaly', turn: state.turn, signal: 'turn-count', threshold: 1, value: 2, message: 'many turns' }];
    case 1: {
      const callId = state.completedCalls.find((call) => !state.rememberedCalls.has(call.callId))?.callId;
      return [{ type: 'memory-write', turn: state.turn, reason: 'tool-result', records: callId === undefined ? [] : [{ id: `m_${callId}`, kind: 'tool-result', importance: 3, callId }], latencyMs: 1 }];
    }
    case 2: {
      if (state.compensation !== null) return null;
      const trip: EventBody = { type: 'guard-trip', turn: state.turn, guard: 'cost', limit: 1, actual: 2, message: 'cost' };
      return [trip, ...cancelOrFail(state, 'failed')];
    }
    case 3:
      return state.compensation === null ? cancelOrFail(state, 'cancelled') : null;
    default:
      return null;
  }
}

function cancelOrFail(state: SessionState, status: 'failed' | 'cancelled'): EventBody[] {
  const effect = [...state.effectCalls].reverse().find((call) => generatorTraits.compensable.has(call.tool));
  if (effect === undefined) return endBodies(state, status);
  return [{ type: 'compensation-request', turn: state.turn, callId: effect.callId, tool: effect.tool, idempotencyKey: `comp_${effect.callId}`, reason: status, endStatus: status, endError: error(status) }];
}

/** The events that take `state` one step further: the step nextStep chose, or an interruption. Null once finished. */
function advance(state: SessionState, choices: Choices): EventBody[] | null {
  const step = nextStep(state, journalInputs);
  if (step.kind === 'finished') return null;
  const interrupted = interruption(state, choices);
  if (interrupted !== null) return interrupted;
  const turn = state.turn;
  switch (step.kind) {
    case 'start-turn':
      if (turn >= state.start.limits.maxTurns) return endBodies(state, 'failed');
      return [{ type: 'turn-start', turn: turn + 1 }, { type: 'model-request', turn: turn + 1, requestHash: `h${turn + 1}`, provider: 'test', model: 'test-model', streaming: false }];
    case 'call-model':
      return choices.pick(8) === 0 ? [{ type: 'model-error', turn, error: error('model-overloaded'), retries: 2, latencyMs: 1 }, ...endBodies(state, 'failed')] : [response(state, choices)];
    case 'request-tools':
      return step.calls.map((call) => ({ type: 'tool-request', turn, callId: call.id, tool: call.name, input: call.input, idempotencyKey: `k_${call.id}` }));
    case 'decide-tools':
      return step.callIds.flatMap((callId): EventBody[] => {
        const tool = state.toolCalls.get(callId)?.request.tool ?? 'look';
        const decision = (['allow', 'allow', 'deny', 'ask'] as const)[choices.pick(4)] ?? 'allow';
        const decided: EventBody = { type: 'tool-decision', turn, callId, tool, decision, rule: 'gen', reason: 'gen', risk: 'write' };
        return decision === 'deny' ? [decided, { type: 'tool-error', turn, callId, tool, error: error('tool-denied'), latencyMs: 0 }] : [decided];
      });
    case 'await-approval':
      return step.callIds.flatMap((callId): EventBody[] => {
        const approved = choices.pick(2) === 0;
        const tool = state.toolCalls.get(callId)?.request.tool ?? 'look';
        const answer: EventBody = { type: 'tool-approval', turn, callId, approved, approver: 'pat', reason: null };
        return approved ? [answer] : [answer, { type: 'tool-error', turn, callId, tool, error: error('approval-rejected'), latencyMs: 0 }];
      });
    case 'run-tools':
      return step.callIds.map((callId): EventBody => {
        const tool = state.toolCalls.get(callId)?.request.tool ?? 'look';
        const outcome = choices.pick(4);
        if (outcome < 2) return { type: 'tool-result', turn, callId, tool, output: `out ${callId}`, latencyMs: 1 };
        return { type: 'tool-error', turn, callId, tool, error: error(outcome === 2 ? 'tool-failed' : 'tool-outcome-unknown'), latencyMs: 1 };
      });
    case 'compensate': {
      const requested = state.compensation?.requested.has(step.call.callId) === true;
      const result: EventBody = { type: 'compensation-result', turn, callId: step.call.callId, tool: step.call.tool, ok: choices.pick(3) > 0, output: 'undone', error: null, latencyMs: 1 };
      if (requested) return [result];
      const phase = state.compensation;
      return [{ type: 'compensation-request', turn, callId: step.call.callId, tool: step.call.tool, idempotencyKey: `comp_${step.call.callId}`, reason: 'saga', endStatus: phase?.status ?? 'failed', endError: phase?.error ?? null }, result];
    }
    case 'end-compensated':
      return endBodies(state, state.compensation?.status ?? 'failed');
    case 'complete':
      return endBodies(state, 'completed');
    case 'fail':
      return endBodies(state, 'failed');
    case 'cancel':
      return cancelOrFail(state, 'cancelled');
    case 'stop':
    case 'record-anomalies':
    case 'record-memories':
      throw new Error(`The generator gives no ${step.kind} inputs.`);
  }
}

/** A journal the loop could have written: every step is one nextStep chose, or a fact that may come between steps. */
export function generateJournal(values: readonly number[], maxEvents = 120): SessionEvent[] {
  const start = sessionStart();
  const events: SessionEvent[] = [start];
  const choices = new Choices(values.length === 0 ? [0] : values);
  let state = initialState(start);
  while (events.length < maxEvents) {
    const bodies = advance(state, choices);
    if (bodies === null) break;
    const stamped = bodies.map((body, index) => ({ ...body, v: currentEventVersion, sessionId: start.sessionId, seq: state.lastSeq + index + 1, at: state.lastSeq + index + 1 }) as SessionEvent);
    state = applyEvents(state, stamped);
    events.push(...stamped);
  }
  return events;
}

export const journalArbitrary = fc.array(fc.nat({ max: 1_000 }), { minLength: 1, maxLength: 200 }).map((values) => generateJournal(values));
