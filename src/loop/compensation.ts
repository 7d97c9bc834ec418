import { KeelError } from '../errors/index.ts';
import { linkedSignal, sha256 } from '../util/index.ts';
import { raceWithSignal, stringifyOutput } from '../tools/index.ts';
import type { ErrorRecord, EventBody } from '../spec/events.ts';
import type { AgentDefinition } from './define-agent.ts';
import type { ToolTraits } from './next-step.ts';
import type { CompletedCall, SessionState } from './session-state.ts';
import type { SessionWriter } from './session-writer.ts';

export function toolTraits(agent: AgentDefinition): ToolTraits {
  const tools = [...agent.tools.values()];
  return {
    compensable: new Set(tools.filter((tool) => tool.compensate !== null).map((tool) => tool.name)),
    critical: new Set(tools.filter((tool) => tool.critical).map((tool) => tool.name)),
  };
}

function newestCompensable(state: SessionState, traits: ToolTraits): CompletedCall | undefined {
  for (let index = state.completedCalls.length - 1; index >= 0; index -= 1) {
    const call = state.completedCalls[index];
    if (call !== undefined && traits.compensable.has(call.tool)) return call;
  }
  return undefined;
}

function compensationRequest(state: SessionState, call: CompletedCall, status: 'failed' | 'cancelled', error: ErrorRecord | null, reason: string): EventBody {
  return {
    type: 'compensation-request',
    turn: state.turn,
    callId: call.callId,
    tool: call.tool,
    idempotencyKey: `idem_${sha256(`${call.idempotencyKey}\u0000compensate`).slice(0, 40)}`,
    reason,
    endStatus: status,
    endError: error,
  };
}

/**
 * Ends a session that failed or was cancelled. With completed calls to undo, the first compensation request
 * is journaled together with the leading events (a guard trip, say), so a resume finishes the saga and ends the
 * same way; without, the session-end is written at once.
 */
export async function endBadly(
  writer: SessionWriter,
  traits: ToolTraits,
  status: 'failed' | 'cancelled',
  error: KeelError | null,
  leading: readonly EventBody[],
  endBody: (state: SessionState) => EventBody,
): Promise<void> {
  const state = writer.state;
  const first = newestCompensable(state, traits);
  if (first === undefined) {
    await writer.append([...leading, endBody(state)]);
    return;
  }
  const reason = error === null ? `The session was ${status}.` : `${error.code}: ${error.message}`;
  await writer.append([...leading, compensationRequest(state, first, status, error === null ? null : error.toRecord(), reason)]);
}

/** Runs one compensation: journals its request if needed, runs it under the tool's timeout, journals the result. */
export async function compensate(agent: AgentDefinition, writer: SessionWriter, call: CompletedCall): Promise<void> {
  const phase = writer.state.compensation;
  if (phase === null) throw new KeelError('internal', 'compensate() outside a compensation phase.');
  let request = phase.requested.get(call.callId);
  if (request === undefined) {
    const body = compensationRequest(writer.state, call, phase.status, phase.error, phase.requested.values().next().value?.reason ?? 'saga compensation');
    const after = await writer.append([body]);
    request = after.compensation?.requested.get(call.callId);
  }
  if (request === undefined) throw new KeelError('internal', `No compensation request for ${call.callId}.`);
  const tool = agent.tools.get(call.tool);
  const started = performance.now();
  const latency = (): number => Math.round((performance.now() - started) * 1000) / 1000;
  const record = (ok: boolean, output: string | null, error: KeelError | null): Promise<unknown> =>
    writer.append([{ type: 'compensation-result', turn: writer.state.turn, callId: call.callId, tool: call.tool, ok, output, error: error === null ? null : error.toRecord(), latencyMs: latency() }]);
  if (tool?.compensate == null) {
    await record(false, null, new KeelError('compensation-failed', `Tool "${call.tool}" no longer has a compensate function; undo call ${call.callId} by hand.`));
    return;
  }
  const undo = tool.compensate;
  // Compensation runs even when the session was cancelled: it is the cleanup of the cancellation.
  const { signal, dispose } = linkedSignal([], tool.timeoutMs, () => new KeelError('tool-timeout', `Compensation of "${tool.name}" did not finish within ${tool.timeoutMs} ms.`));
  try {
    const context = { sessionId: writer.state.sessionId, turn: call.turn, callId: call.callId, idempotencyKey: request.idempotencyKey, signal };
    const result = await raceWithSignal(Promise.resolve().then(() => undo(call.input, call.output, context)), signal);
    await record(true, stringifyOutput(result), null);
  } catch (thrown) {
    const error = thrown instanceof KeelError ? thrown : new KeelError('compensation-failed', `Compensation of "${tool.name}" for call ${call.callId} failed: ${thrown instanceof Error ? thrown.message : String(thrown)}`, { cause: thrown });
    await record(false, null, error);
  } finally {
    dispose();
  }
}
