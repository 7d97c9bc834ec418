import { KeelError } from '../errors/index.ts';
import type { ToolUseBlock } from '../spec/message.ts';
import type { AnomalyBody } from '../tracing/anomalies.ts';
import { unrecordedCalls } from './memory-recording.ts';
import { truncationNotice } from './session-state.ts';
import type { EffectCall, SessionState, ToolCallState } from './session-state.ts';

/** What the state machine needs to know about the agent's tools, beyond the journal. */
export interface ToolTraits {
  /** Tools with a `compensate` function, whose completed calls a saga undoes. */
  readonly compensable: ReadonlySet<string>;
  /** Tools whose errors end the session. */
  readonly critical: ReadonlySet<string>;
}

/** What the agent keeps in memory, and how far reflection has looked (calls completed when it last checked). */
export interface MemoryProgress {
  readonly recordToolResults: boolean;
  readonly reflects: boolean;
  readonly reflectedAfterCalls: number;
}

/**
 * What the next step depends on besides the journal's fold: the agent's tool traits, and the facts of this run that
 * are not (yet) journal events: anomaly signals found in what was written, the caller's cancellation, a lost lease.
 */
export interface StepInputs {
  readonly traits: ToolTraits;
  /** Anomaly signals found in written events and not journaled yet. */
  readonly pendingAnomalies: readonly AnomalyBody[];
  /** The caller's cancellation, once it fired. */
  readonly cancellation: KeelError | null;
  /** Set when this process lost the session's lease: another process writes the session now. */
  readonly leaseLost: KeelError | null;
  /** Null when the agent has no memory. */
  readonly memory: MemoryProgress | null;
  /** Subagent calls whose child session waits for a person: they stay open, and this session waits with them. */
  readonly suspendedCalls?: ReadonlySet<string>;
}

const noInputs: StepInputs = { traits: { compensable: new Set(), critical: new Set() }, pendingAnomalies: [], cancellation: null, leaseLost: null, memory: null };

/** The loop is a state machine: from any folded state (and the run's inputs) there is exactly one next step. */
export type NextStep =
  | { readonly kind: 'finished' }
  /** This process no longer holds the session: stop before writing anything more. */
  | { readonly kind: 'stop'; readonly error: KeelError }
  /** Journal these anomaly signals; they never stop the session. */
  | { readonly kind: 'record-anomalies'; readonly anomalies: readonly AnomalyBody[] }
  /** Keep completed tool results in the episodic store, and reflect when due. */
  | { readonly kind: 'record-memories' }
  /** The caller cancelled: end the session `cancelled` (after compensations, when there are effects to undo). */
  | { readonly kind: 'cancel'; readonly error: KeelError }
  | { readonly kind: 'start-turn' }
  | { readonly kind: 'call-model' }
  | { readonly kind: 'request-tools'; readonly calls: readonly ToolUseBlock[] }
  | { readonly kind: 'decide-tools'; readonly callIds: readonly string[] }
  /** Suspended: these calls wait for a person's `tool-approval`. */
  | { readonly kind: 'await-approval'; readonly callIds: readonly string[] }
  | { readonly kind: 'run-tools'; readonly callIds: readonly string[] }
  /** Undo this call (saga), then look again. */
  | { readonly kind: 'compensate'; readonly call: EffectCall }
  /** Compensations are done: write the session-end the compensation phase recorded. */
  | { readonly kind: 'end-compensated' }
  | { readonly kind: 'complete'; readonly output: string }
  | { readonly kind: 'fail'; readonly error: KeelError };

/** How many times in a row the loop asks the model to continue a reply cut off at `max_tokens` before it gives up. */
export const maxContinuations = 2;

export function nextStep(state: SessionState, inputs: StepInputs = noInputs): NextStep {
  if (state.end !== null) return { kind: 'finished' };
  if (inputs.leaseLost !== null) return { kind: 'stop', error: inputs.leaseLost };
  if (inputs.pendingAnomalies.length > 0) return { kind: 'record-anomalies', anomalies: inputs.pendingAnomalies };
  if (state.compensation !== null) return nextCompensation(state, inputs.traits);
  if (inputs.cancellation !== null) return { kind: 'cancel', error: inputs.cancellation };
  if (memoryDue(state, inputs.memory)) return { kind: 'record-memories' };
  return nextWork(state, inputs.traits, inputs.suspendedCalls ?? noCalls);
}

const noCalls: ReadonlySet<string> = new Set();

/** Tool results not yet in the episodic store (also those of a run that stopped before recording them), or a reflection check. */
function memoryDue(state: SessionState, memory: MemoryProgress | null): boolean {
  if (memory === null) return false;
  if (memory.reflects && state.completedCalls.length > memory.reflectedAfterCalls) return true;
  return memory.recordToolResults && unrecordedCalls(state.completedCalls, state.rememberedCalls).length > 0;
}

function nextWork(state: SessionState, traits: ToolTraits, suspended: ReadonlySet<string>): NextStep {
  if (state.turn === 0) return { kind: 'start-turn' };
  const response = state.response;
  if (response === null) return { kind: 'call-model' };

  const toolUses = response.content.filter((block): block is ToolUseBlock => block.type === 'tool_use');
  if (toolUses.length > 0) {
    const unrequested = toolUses.filter((use) => !state.toolCalls.has(use.id));
    if (unrequested.length > 0) return { kind: 'request-tools', calls: unrequested };
    const calls = toolUses.map((use) => state.toolCalls.get(use.id));
    const undecided = calls.filter((call) => call !== undefined && call.outcome === null && call.decision === null);
    if (undecided.length > 0) return { kind: 'decide-tools', callIds: undecided.map((call) => call?.request.callId ?? '') };
    const runnable = calls.filter((call) => call !== undefined && call.outcome === null && !suspended.has(call.request.callId) && (call.decision?.decision !== 'ask' || call.approval?.approved === true));
    if (runnable.length > 0) return { kind: 'run-tools', callIds: runnable.map((call) => call?.request.callId ?? '') };
    const waiting = calls.filter((call) => call !== undefined && call.outcome === null && ((call.decision?.decision === 'ask' && call.approval === null) || suspended.has(call.request.callId)));
    if (waiting.length > 0) return { kind: 'await-approval', callIds: waiting.map((call) => call?.request.callId ?? '') };
    const criticalFailure = calls.find((call) => call?.outcome?.type === 'tool-error' && traits.critical.has(call.request.tool));
    if (criticalFailure?.outcome?.type === 'tool-error') {
      const error = criticalFailure.outcome.error;
      return {
        kind: 'fail',
        error: new KeelError('tool-failed', `Critical tool "${criticalFailure.request.tool}" failed (${error.code}): ${error.message}`, { details: { callId: criticalFailure.request.callId } }),
      };
    }
    const handedOver = handoffOutcome(state, calls);
    if (handedOver !== null) return handedOver;
    return { kind: 'start-turn' };
  }

  switch (response.stopReason) {
    case 'end_turn':
    case 'stop_sequence':
    case 'tool_use':
      return { kind: 'complete', output: finalText(state) };
    case 'pause_turn':
      return { kind: 'start-turn' };
    case 'max_tokens':
      if (state.truncatedInARow > maxContinuations) {
        return {
          kind: 'fail',
          error: new KeelError(
            'model-bad-request',
            `The model hit its output token limit ${state.truncatedInARow} times in a row; raise maxOutputTokensPerCall on the agent.`,
          ),
        };
      }
      return { kind: 'start-turn' };
    case 'refusal':
    case 'content_filter':
      return {
        kind: 'fail',
        error: new KeelError('model-refusal', `The model declined to continue (${response.providerStopReason}): ${finalText(state) || 'no explanation given'}.`),
      };
    case 'context_window_exceeded':
      return {
        kind: 'fail',
        error: new KeelError('model-context-window', 'The conversation no longer fits the model\'s context window; configure a context strategy or lower the tool result sizes.'),
      };
  }
}

/**
 * Undo calls that completed or whose outcome is unknown, newest first; a requested compensation without a result runs
 * again with the same key.
 */
function nextCompensation(state: SessionState, traits: ToolTraits): NextStep {
  const phase = state.compensation;
  if (phase === null) return { kind: 'end-compensated' };
  for (let index = state.effectCalls.length - 1; index >= 0; index -= 1) {
    const call = state.effectCalls[index];
    if (call === undefined || !traits.compensable.has(call.tool)) continue;
    if (!phase.results.has(call.callId)) return { kind: 'compensate', call };
  }
  return { kind: 'end-compensated' };
}

/**
 * A handoff of this turn whose target answered: the target took the conversation over, so its answer ends this
 * session (completed with that answer, or failed with the target's error).
 */
function handoffOutcome(state: SessionState, calls: readonly (ToolCallState | undefined)[]): NextStep | null {
  for (const call of calls) {
    const child = call === undefined ? undefined : state.children.get(call.request.callId);
    if (child === undefined || child.start.mode !== 'handoff' || child.end === null || call?.outcome == null) continue;
    const end = child.end;
    if (end.status === 'completed') return { kind: 'complete', output: end.output ?? '' };
    const error = end.error;
    return { kind: 'fail', error: new KeelError('tool-failed', `The conversation was handed over to "${child.start.agent}" (session ${child.start.childSessionId}), which ${end.status}${error === null ? '' : `: ${error.message}`}.`, { details: { childSessionId: child.start.childSessionId } }) };
  }
  return null;
}

/** The text of the last response; a reply continued after `max_tokens` is joined with its earlier parts. */
function finalText(state: SessionState): string {
  const response = state.response;
  if (response === null) return '';
  const parts: string[] = [];
  const text = response.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('');
  parts.push(text);
  for (let index = state.messages.length - 1; index >= 1; index -= 2) {
    const prompt = state.messages[index];
    const reply = state.messages[index - 1];
    const isContinuation = prompt?.role === 'user' && prompt.content.length === 1 && prompt.content[0]?.type === 'text' && reply?.role === 'assistant';
    if (!isContinuation || !prompt.content[0] || prompt.content[0].type !== 'text' || prompt.content[0].text !== truncationNotice) break;
    parts.unshift(reply.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join(''));
  }
  return parts.join('');
}
