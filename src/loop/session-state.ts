import { KeelError } from '../errors/index.ts';
import { canonicalJson } from '../util/index.ts';
import type {
  ModelResponseEvent,
  SessionEndEvent,
  SessionEvent,
  SessionStartEvent,
  ToolErrorEvent,
  ToolRequestEvent,
  ToolResultEvent,
} from '../spec/events.ts';
import type { ContentBlock, Message, ToolResultBlock, ToolUseBlock } from '../spec/message.ts';
import type { Usage } from '../spec/usage.ts';

export interface ToolCallState {
  readonly request: ToolRequestEvent;
  readonly outcome: ToolResultEvent | ToolErrorEvent | null;
}

/** Everything the loop needs to continue, derived only from the journal (DESIGN.md §1: state is a fold). */
export interface SessionState {
  readonly sessionId: string;
  readonly start: SessionStartEvent;
  readonly lastSeq: number;
  readonly turn: number;
  readonly messages: readonly Message[];
  readonly usage: Usage;
  readonly costUsd: number | null;
  /** The response of the current turn, null while the current turn has not had one. */
  readonly response: ModelResponseEvent | null;
  /** Tool calls of the current turn by call id, in the order the model asked for them. */
  readonly toolCalls: ReadonlyMap<string, ToolCallState>;
  /** Canonical signatures of every tool call so far, for the identical-calls guard. */
  readonly callSignatures: readonly string[];
  /** Continuations asked for after `max_tokens` stops, in a row. */
  readonly truncatedInARow: number;
  readonly end: SessionEndEvent | null;
}

export const zeroUsage: Usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };

export function addUsage(left: Usage, right: Usage): Usage {
  return {
    inputTokens: left.inputTokens + right.inputTokens,
    outputTokens: left.outputTokens + right.outputTokens,
    cacheReadTokens: left.cacheReadTokens + right.cacheReadTokens,
    cacheWriteTokens: left.cacheWriteTokens + right.cacheWriteTokens,
  };
}

export function callSignature(name: string, input: unknown): string {
  return `${name}:${canonicalJson(input)}`;
}

export const truncationNotice =
  'Your previous reply was cut off at the output token limit. Continue exactly where you stopped, without repeating yourself.';

type MutableState = { -readonly [Key in keyof SessionState]: SessionState[Key] } & {
  messages: Message[];
  toolCalls: Map<string, ToolCallState>;
  callSignatures: string[];
};

export function initialState(start: SessionStartEvent): SessionState {
  return {
    sessionId: start.sessionId,
    start,
    lastSeq: start.seq,
    turn: 0,
    messages: [{ role: 'user', content: [{ type: 'text', text: start.input }] }],
    usage: zeroUsage,
    costUsd: 0,
    response: null,
    toolCalls: new Map(),
    callSignatures: [],
    truncatedInARow: 0,
    end: null,
  };
}

/** Applies one event. Pure apart from copying: the loop calls it for every event it writes, and resume calls it for every event it reads. */
export function applyEvent(current: SessionState, event: SessionEvent): SessionState {
  if (event.seq !== current.lastSeq + 1) {
    throw new KeelError('journal-corrupt', `Session ${current.sessionId}: expected event ${current.lastSeq + 1}, found ${event.seq}.`);
  }
  const state: MutableState = {
    ...current,
    lastSeq: event.seq,
    messages: current.messages as Message[],
    toolCalls: current.toolCalls as Map<string, ToolCallState>,
    callSignatures: current.callSignatures as string[],
  };
  switch (event.type) {
    case 'session-start':
      throw new KeelError('journal-corrupt', `Session ${current.sessionId}: a second session-start at seq ${event.seq}.`);
    case 'turn-start':
      closeTurn(state);
      state.turn = event.turn;
      state.response = null;
      state.toolCalls = new Map();
      break;
    case 'model-response': {
      state.response = event;
      state.usage = addUsage(state.usage, event.usage);
      state.costUsd = state.costUsd === null || event.costUsd === null ? null : state.costUsd + event.costUsd;
      state.truncatedInARow = event.stopReason === 'max_tokens' && !event.content.some((block) => block.type === 'tool_use') ? state.truncatedInARow + 1 : 0;
      break;
    }
    case 'tool-request':
      state.toolCalls = new Map(state.toolCalls).set(event.callId, { request: event, outcome: null });
      state.callSignatures = [...state.callSignatures, callSignature(event.tool, event.input)];
      break;
    case 'tool-result':
    case 'tool-error': {
      const call = state.toolCalls.get(event.callId);
      if (call === undefined) {
        throw new KeelError('journal-corrupt', `Session ${current.sessionId}: ${event.type} at seq ${event.seq} for unknown call ${event.callId}.`);
      }
      state.toolCalls = new Map(state.toolCalls).set(event.callId, { request: call.request, outcome: event });
      break;
    }
    case 'session-end':
      state.end = event;
      break;
    default:
      break;
  }
  return state;
}

/** Moves the finished turn into the conversation: the assistant message, then its tool results, or a continuation prompt. */
function closeTurn(state: MutableState): void {
  const response = state.response;
  if (response === null) return;
  const messages = [...state.messages, { role: 'assistant' as const, content: response.content }];
  const toolUses = response.content.filter((block): block is ToolUseBlock => block.type === 'tool_use');
  if (toolUses.length > 0) {
    const results: ContentBlock[] = toolUses.map((use) => toolResultBlock(use, state.toolCalls.get(use.id)));
    messages.push({ role: 'user', content: results });
  } else if (response.stopReason === 'max_tokens') {
    messages.push({ role: 'user', content: [{ type: 'text', text: truncationNotice }] });
  }
  // pause_turn: the assistant message is sent back as it is, and the model continues it.
  state.messages = messages;
}

function toolResultBlock(use: ToolUseBlock, call: ToolCallState | undefined): ToolResultBlock {
  const outcome = call?.outcome ?? null;
  if (outcome === null) return { type: 'tool_result', toolUseId: use.id, content: 'The tool did not run.', isError: true };
  if (outcome.type === 'tool-result') return { type: 'tool_result', toolUseId: use.id, content: outcome.output, isError: false };
  return { type: 'tool_result', toolUseId: use.id, content: `Error (${outcome.error.code}): ${outcome.error.message}`, isError: true };
}

export function foldEvents(events: readonly SessionEvent[]): SessionState {
  const first = events[0];
  if (first === undefined) throw new KeelError('session-not-found', 'The journal has no events for this session.');
  if (first.type !== 'session-start' || first.seq !== 1) {
    throw new KeelError('journal-corrupt', `Session ${first.sessionId}: the journal does not begin with session-start at seq 1.`);
  }
  let state = initialState(first);
  for (const event of events.slice(1)) state = applyEvent(state, event);
  return state;
}
