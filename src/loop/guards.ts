import type { EventBody, GuardName, GuardTripEvent } from '../spec/events.ts';
import type { ToolUseBlock } from '../spec/message.ts';
import { callSignature } from './session-state.ts';
import type { SessionState } from './session-state.ts';

/** Guards are circuit breakers: each trip ends the session with the figures that tripped it. */
export type GuardTrip = EventBody<GuardTripEvent>;

function trip(state: SessionState, guard: GuardName, limit: number, actual: number, message: string): GuardTrip {
  return { type: 'guard-trip', turn: state.turn, guard, limit, actual, message };
}

/** Checked before a turn begins: another model call is about to be made. */
export function checkBeforeTurn(state: SessionState, now: number): GuardTrip | null {
  const limits = state.start.limits;
  if (state.turn >= limits.maxTurns) {
    return trip(state, 'max-turns', limits.maxTurns, state.turn, `The session used all ${limits.maxTurns} turns without a final answer.`);
  }
  return checkDeadline(state, now);
}

export function checkDeadline(state: SessionState, now: number): GuardTrip | null {
  const deadlineAt = state.start.limits.deadlineAt;
  if (deadlineAt !== null && now >= deadlineAt) {
    const budget = deadlineAt - state.start.at;
    return trip(state, 'deadline', budget, now - state.start.at, `The session ran past its wall-clock budget of ${budget} ms.`);
  }
  return null;
}

/** Checked after a response that asks for more work: the budgets already spent decide whether more may be spent. */
export function checkBudgets(state: SessionState): GuardTrip | null {
  const limits = state.start.limits;
  const input = state.usage.inputTokens + state.usage.cacheReadTokens + state.usage.cacheWriteTokens;
  if (limits.maxInputTokens !== null && input >= limits.maxInputTokens) {
    return trip(state, 'input-tokens', limits.maxInputTokens, input, `The session used ${input} input tokens of its budget of ${limits.maxInputTokens}.`);
  }
  if (limits.maxOutputTokens !== null && state.usage.outputTokens >= limits.maxOutputTokens) {
    return trip(state, 'output-tokens', limits.maxOutputTokens, state.usage.outputTokens, `The session used ${state.usage.outputTokens} output tokens of its budget of ${limits.maxOutputTokens}.`);
  }
  if (limits.maxCostUsd !== null && state.costUsd !== null && state.costUsd >= limits.maxCostUsd) {
    return trip(state, 'cost', limits.maxCostUsd, state.costUsd, `The session cost $${state.costUsd.toFixed(4)} of its budget of $${limits.maxCostUsd}.`);
  }
  return null;
}

/** Checked before tool calls are journaled: the same call again and again is a loop. */
export function checkIdenticalCalls(state: SessionState, calls: readonly ToolUseBlock[]): GuardTrip | null {
  const limit = state.start.limits.maxIdenticalToolCalls;
  // A call whose arguments were refused unparsed (malformed, or over a limit) carries `{}` as input: its preview is
  // what tells one such call from another, so that a message of many refused calls is not taken for a loop.
  const signatures = [...state.callSignatures, ...calls.map((call) => callSignature(call.name, call.malformedInput === undefined ? call.input : { unparsed: call.malformedInput }))];
  const earliest = state.callSignatures.length;
  for (let end = earliest; end < signatures.length; end += 1) {
    let run = 1;
    while (run <= end && signatures[end - run] === signatures[end]) run += 1;
    if (run >= limit) {
      const name = calls[end - earliest]?.name ?? 'unknown';
      return trip(state, 'identical-tool-calls', limit, run, `The model called "${name}" with the same input ${run} times in a row.`);
    }
  }
  return null;
}
