import { KeelError } from '../errors/index.ts';
import { linkedSignal, sha256 } from '../util/index.ts';
import { raceWithSignal, stringifyOutput } from '../tools/index.ts';
import type { ErrorRecord, EventBody } from '../spec/events.ts';
import type { AgentDefinition } from './define-agent.ts';
import { endBody } from './loop-context.ts';
import { compensateChildSession } from './child-compensation.ts';
import { childSessionId } from './child-sessions.ts';
import { subagentOf } from './subagent-tool.ts';
import type { LoopContext } from './loop-context.ts';
import type { ToolTraits } from './next-step.ts';
import type { EffectCall, SessionState } from './session-state.ts';

export function toolTraits(agent: AgentDefinition): ToolTraits {
  const tools = [...agent.tools.values()];
  return {
    // A subagent's completed call is undone by undoing its child session's effects (`compensateChildSession`).
    compensable: new Set(tools.filter((tool) => tool.compensate !== null || subagentOf(tool) !== null).map((tool) => tool.name)),
    critical: new Set(tools.filter((tool) => tool.critical).map((tool) => tool.name)),
  };
}

function newestCompensable(state: SessionState, traits: ToolTraits): EffectCall | undefined {
  for (let index = state.effectCalls.length - 1; index >= 0; index -= 1) {
    const call = state.effectCalls[index];
    if (call !== undefined && traits.compensable.has(call.tool)) return call;
  }
  return undefined;
}

/** The compensation's own idempotency key, derived from the call's: a compensation repeated after a crash is deduplicated too. */
function compensationRequest(state: SessionState, call: EffectCall, status: 'failed' | 'cancelled', error: ErrorRecord | null, reason: string): EventBody {
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

export interface BadEnd {
  readonly status: 'failed' | 'cancelled';
  readonly error: KeelError | null;
  /** Events journaled in the same append, before the end or the first compensation request (a guard trip, say). */
  readonly leading?: readonly EventBody[];
}

/**
 * Ends a session that failed or was cancelled. With effects to undo, the first compensation request is journaled
 * together with the leading events, so a resume finishes the saga and ends the same way; without, the session-end is
 * written at once.
 */
export async function endBadly(context: LoopContext, end: BadEnd): Promise<void> {
  const { writer, traits } = context;
  const leading = end.leading ?? [];
  // The end's figures include the leading events (a response that tripped a budget brings its usage).
  const state = writer.preview(leading);
  const first = newestCompensable(state, traits);
  if (first === undefined) {
    await writer.append([...leading, endBody(state, end.status, null, end.error)]);
    return;
  }
  const reason = end.error === null ? `The session was ${end.status}.` : `${end.error.code}: ${end.error.message}`;
  await writer.append([...leading, compensationRequest(state, first, end.status, end.error === null ? null : end.error.toRecord(), reason)]);
}

/** Compensations are done: the session-end the compensation phase recorded, with every failed compensation named. */
export async function endCompensated(context: LoopContext): Promise<void> {
  const state = context.writer.state;
  const phase = state.compensation;
  const failures = phase === null ? [] : [...phase.results.values()].filter((result) => !result.ok);
  const base = phase?.error ?? null;
  const error =
    failures.length === 0
      ? base
      : {
          code: base?.code ?? 'compensation-failed',
          message: `${base?.message ?? 'The session ended.'} ${failures.length} compensation(s) failed: ${failures.map((failure) => `${failure.tool} (${failure.callId}): ${failure.error?.message ?? 'unknown'}`).join('; ')}`,
          fault: base?.fault ?? 'tool',
          retryable: false,
        };
  await context.writer.append([{ type: 'session-end', status: phase?.status ?? 'failed', output: null, error, turns: state.turn, usage: state.usage, costUsd: state.costUsd }]);
}

/**
 * Runs one compensation: journals its request if needed, runs it under the tool's timeout, journals the result.
 * A call whose outcome is unknown is compensated too, with an empty `output`: compensations are keyed and idempotent,
 * so undoing an effect that never happened must be harmless.
 */
export async function compensate(context: LoopContext, call: EffectCall): Promise<void> {
  const { agent, writer } = context;
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
  const child = subagentOf(tool);
  if (tool === undefined || (tool.compensate === null && child === null)) {
    await record(false, null, new KeelError('compensation-failed', `Tool "${call.tool}" no longer has a compensate function; undo call ${call.callId} by hand.`));
    return;
  }
  const own = tool.compensate;
  const undo =
    child === null || own !== null
      ? (own ?? (() => undefined))
      : (_input: unknown, _output: string, toolContext: { readonly signal: AbortSignal }) =>
          compensateChildSession({ journal: context.dependencies.journal, agent: child.agent, sessionId: childSessionId(writer.state.sessionId, call.callId), signal: toolContext.signal });
  const timeoutMs = tool.timeoutMs > 0 ? tool.timeoutMs : agent.toolCalls.defaultTimeoutMs;
  // Compensation runs even when the session was cancelled: it is the cleanup of the cancellation.
  const { signal, dispose } = linkedSignal([], timeoutMs, () => new KeelError('tool-timeout', `Compensation of "${tool.name}" did not finish within ${timeoutMs} ms.`));
  try {
    const toolContext = { sessionId: writer.state.sessionId, turn: call.turn, callId: call.callId, idempotencyKey: request.idempotencyKey, signal };
    const result = await raceWithSignal(Promise.resolve().then(() => undo(call.input, call.output ?? '', toolContext)), signal);
    await record(true, stringifyOutput(result), null);
  } catch (thrown) {
    const error = thrown instanceof KeelError ? thrown : new KeelError('compensation-failed', `Compensation of "${tool.name}" for call ${call.callId} failed: ${thrown instanceof Error ? thrown.message : String(thrown)}`, { cause: thrown });
    await record(false, null, error);
  } finally {
    dispose();
  }
}
