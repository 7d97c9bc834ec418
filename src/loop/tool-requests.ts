import { KeelError } from '../errors/index.ts';
import { sha256 } from '../util/index.ts';
import type { EventBody } from '../spec/events.ts';
import type { ToolUseBlock } from '../spec/message.ts';
import type { SessionState } from './session-state.ts';

export function idempotencyKeyFor(sessionId: string, turn: number, callId: string): string {
  return `idem_${sha256(`${sessionId}\u0000${turn}\u0000${callId}`).slice(0, 40)}`;
}

export function toolRequest(state: SessionState, call: ToolUseBlock): EventBody {
  return { type: 'tool-request', turn: state.turn, callId: call.id, tool: call.name, input: call.input, idempotencyKey: idempotencyKeyFor(state.sessionId, state.turn, call.id) };
}

/** The model's tool calls in its current message, in the order it asked for them. */
export function messageToolUses(state: SessionState): ToolUseBlock[] {
  return (state.response?.content ?? []).filter((block): block is ToolUseBlock => block.type === 'tool_use');
}

/**
 * The events that journal tool calls of the current message: a request for each and, for each call past the
 * per-message cap, its `tool-call-limit` error result in the same append. Whether a call is past the cap follows from
 * its position in the journaled model message, and the error is journaled with the request: a resume never runs it.
 * `state` is the state after the model response was applied.
 */
export function toolRequestBodies(state: SessionState, calls: readonly ToolUseBlock[], maxPerMessage: number): EventBody[] {
  const uses = messageToolUses(state);
  const positions = new Map(uses.map((use, index) => [use.id, index]));
  const bodies: EventBody[] = [];
  for (const call of calls) {
    bodies.push(toolRequest(state, call));
    const position = positions.get(call.id) ?? uses.length;
    if (position < maxPerMessage) continue;
    const error = new KeelError(
      'tool-call-limit',
      `Not run: this message asked for ${uses.length} tool calls and at most ${maxPerMessage} run per message; calls ${maxPerMessage + 1}..${uses.length} (this is call ${position + 1}) were not run. Ask again for the ones you still need, at most ${maxPerMessage} at a time.`,
      { details: { limit: maxPerMessage, requested: uses.length, position: position + 1 } },
    );
    bodies.push({ type: 'tool-error', turn: state.turn, callId: call.id, tool: call.name, error: error.toRecord(), latencyMs: 0 });
  }
  return bodies;
}
