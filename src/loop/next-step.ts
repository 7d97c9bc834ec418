import { KeelError } from '../errors/index.ts';
import type { ToolUseBlock } from '../spec/message.ts';
import { truncationNotice } from './session-state.ts';
import type { SessionState } from './session-state.ts';

/** The loop is a state machine: from any folded state there is exactly one next step. */
export type NextStep =
  | { readonly kind: 'finished' }
  | { readonly kind: 'start-turn' }
  | { readonly kind: 'call-model' }
  | { readonly kind: 'request-tools'; readonly calls: readonly ToolUseBlock[] }
  | { readonly kind: 'run-tools'; readonly callIds: readonly string[] }
  | { readonly kind: 'complete'; readonly output: string }
  | { readonly kind: 'fail'; readonly error: KeelError };

/** How many times in a row the loop asks the model to continue a reply cut off at `max_tokens` before it gives up. */
export const maxContinuations = 2;

export function nextStep(state: SessionState): NextStep {
  if (state.end !== null) return { kind: 'finished' };
  if (state.turn === 0) return { kind: 'start-turn' };
  const response = state.response;
  if (response === null) return { kind: 'call-model' };

  const toolUses = response.content.filter((block): block is ToolUseBlock => block.type === 'tool_use');
  if (toolUses.length > 0) {
    const unrequested = toolUses.filter((use) => !state.toolCalls.has(use.id));
    if (unrequested.length > 0) return { kind: 'request-tools', calls: unrequested };
    const pending = toolUses.filter((use) => state.toolCalls.get(use.id)?.outcome === null).map((use) => use.id);
    if (pending.length > 0) return { kind: 'run-tools', callIds: pending };
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
