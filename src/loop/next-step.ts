import { KeelError } from '../errors/index.ts';
import type { ToolUseBlock } from '../spec/message.ts';
import { truncationNotice } from './session-state.ts';
import type { CompletedCall, SessionState } from './session-state.ts';

/** What the state machine needs to know about the agent's tools, beyond the journal. */
export interface ToolTraits {
  /** Tools with a `compensate` function, whose completed calls a saga undoes. */
  readonly compensable: ReadonlySet<string>;
  /** Tools whose errors end the session. */
  readonly critical: ReadonlySet<string>;
}

const noTraits: ToolTraits = { compensable: new Set(), critical: new Set() };

/** The loop is a state machine: from any folded state there is exactly one next step. */
export type NextStep =
  | { readonly kind: 'finished' }
  | { readonly kind: 'start-turn' }
  | { readonly kind: 'call-model' }
  | { readonly kind: 'request-tools'; readonly calls: readonly ToolUseBlock[] }
  | { readonly kind: 'decide-tools'; readonly callIds: readonly string[] }
  /** Suspended: these calls wait for a person's `tool-approval`. */
  | { readonly kind: 'await-approval'; readonly callIds: readonly string[] }
  | { readonly kind: 'run-tools'; readonly callIds: readonly string[] }
  /** Undo this completed call (saga), then look again. */
  | { readonly kind: 'compensate'; readonly call: CompletedCall }
  /** Compensations are done: write the session-end the compensation phase recorded. */
  | { readonly kind: 'end-compensated' }
  | { readonly kind: 'complete'; readonly output: string }
  | { readonly kind: 'fail'; readonly error: KeelError };

/** How many times in a row the loop asks the model to continue a reply cut off at `max_tokens` before it gives up. */
export const maxContinuations = 2;

export function nextStep(state: SessionState, traits: ToolTraits = noTraits): NextStep {
  if (state.end !== null) return { kind: 'finished' };
  if (state.compensation !== null) return nextCompensation(state, traits);
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
    const runnable = calls.filter((call) => call !== undefined && call.outcome === null && (call.decision?.decision !== 'ask' || call.approval?.approved === true));
    if (runnable.length > 0) return { kind: 'run-tools', callIds: runnable.map((call) => call?.request.callId ?? '') };
    const waiting = calls.filter((call) => call !== undefined && call.outcome === null && call.decision?.decision === 'ask' && call.approval === null);
    if (waiting.length > 0) return { kind: 'await-approval', callIds: waiting.map((call) => call?.request.callId ?? '') };
    const criticalFailure = calls.find((call) => call?.outcome?.type === 'tool-error' && traits.critical.has(call.request.tool));
    if (criticalFailure?.outcome?.type === 'tool-error') {
      const error = criticalFailure.outcome.error;
      return {
        kind: 'fail',
        error: new KeelError('tool-failed', `Critical tool "${criticalFailure.request.tool}" failed (${error.code}): ${error.message}`, { details: { callId: criticalFailure.request.callId } }),
      };
    }
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

/** Undo completed calls newest first; a requested compensation without a result runs again with the same key. */
function nextCompensation(state: SessionState, traits: ToolTraits): NextStep {
  const phase = state.compensation;
  if (phase === null) return { kind: 'end-compensated' };
  for (let index = state.completedCalls.length - 1; index >= 0; index -= 1) {
    const call = state.completedCalls[index];
    if (call === undefined || !traits.compensable.has(call.tool)) continue;
    if (!phase.results.has(call.callId)) return { kind: 'compensate', call };
  }
  return { kind: 'end-compensated' };
}

/** Whether ending now must first undo completed calls. */
export function needsCompensation(state: SessionState, traits: ToolTraits): boolean {
  return state.completedCalls.some((call) => traits.compensable.has(call.tool));
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
