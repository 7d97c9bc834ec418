import { KeelError } from '../errors/index.ts';
import type { ContentBlock } from '../spec/message.ts';
import type { ModelStreamPart } from '../spec/model.ts';
import { hostedBlock, isHostedBlockType, mapAnthropicStopReason, mapAnthropicUsage } from './anthropic-response.ts';
import { anthropicHostedToolUse } from './hosted-tools.ts';
import type { AnthropicUsageShape } from './anthropic-response.ts';
import { parseToolArguments } from './tool-arguments.ts';

/** A raw Messages stream event, typed loosely: unknown event and delta types are skipped, as the API asks. */
export interface AnthropicStreamEvent {
  readonly type: string;
  readonly [field: string]: unknown;
}

type BlockState =
  | { kind: 'text'; text: string }
  | { kind: 'thinking'; thinking: string; signature: string }
  | { kind: 'tool'; id: string; name: string; json: string; shellInput: unknown; ordinal: number; done?: ContentBlock }
  /** A server-tool block: results arrive whole in the start event; a server_tool_use's input streams as JSON. */
  | { kind: 'hosted'; shell: Record<string, unknown>; json: string }
  | { kind: 'ignored' };

/**
 * Rebuilds a response from raw stream events while forwarding live parts. Tool-call parts carry the call's
 * position among the response's tool calls (0, 1, …), not the content-block index, so both providers agree.
 * A stream that ends without `message_stop` was cut and fails with the retryable `model-stream-cut`.
 */
export async function* assembleAnthropicStream(events: AsyncIterable<AnthropicStreamEvent>, modelId: string): AsyncGenerator<ModelStreamPart> {
  const blocks = new Map<number, BlockState>();
  let id = '';
  let model = modelId;
  let usage: AnthropicUsageShape = {};
  let stopReason: string | null = null;
  let toolCount = 0;

  for await (const event of events) {
    switch (event.type) {
      case 'message_start': {
        const message = (event.message ?? {}) as { id?: string; model?: string; usage?: AnthropicUsageShape };
        id = message.id ?? id;
        model = message.model ?? model;
        usage = mergeUsage(usage, message.usage);
        break;
      }
      case 'content_block_start': {
        const index = Number(event.index);
        const shell = (event.content_block ?? {}) as Record<string, unknown>;
        const state = startBlock(shell, toolCount);
        blocks.set(index, state);
        if (state.kind === 'tool') {
          toolCount += 1;
          yield { type: 'tool-call-start', index: state.ordinal, id: state.id, name: state.name };
        } else if (state.kind === 'text' && state.text !== '') {
          yield { type: 'text-delta', text: state.text };
        }
        break;
      }
      case 'content_block_delta': {
        const state = blocks.get(Number(event.index));
        const delta = (event.delta ?? {}) as Record<string, unknown>;
        const part = applyDelta(state, delta);
        if (part !== null) yield part;
        break;
      }
      case 'content_block_stop': {
        const state = blocks.get(Number(event.index));
        if (state?.kind === 'tool') state.done = finishTool(state);
        break;
      }
      case 'message_delta': {
        const delta = (event.delta ?? {}) as { stop_reason?: string | null };
        if (delta.stop_reason !== undefined && delta.stop_reason !== null) stopReason = delta.stop_reason;
        usage = mergeUsage(usage, event.usage as AnthropicUsageShape | undefined);
        break;
      }
      case 'message_stop': {
        const content = [...blocks.entries()]
          .sort(([left], [right]) => left - right)
          .map(([, state]) => toContentBlock(state))
          .filter((block): block is ContentBlock => block !== null);
        const providerStopReason = stopReason ?? '';
        const hostedToolUse = anthropicHostedToolUse(usage.server_tool_use, [...blocks.values()].flatMap((state) => (state.kind === 'hosted' ? [{ type: String(state.shell.type), name: state.shell.name }] : [])));
        yield {
          type: 'finish',
          response: {
            id,
            model,
            content,
            stopReason: mapAnthropicStopReason(providerStopReason, content),
            providerStopReason,
            usage: mapAnthropicUsage(usage),
            ...(hostedToolUse === undefined ? {} : { hostedToolUse }),
          },
        };
        return;
      }
      default:
        // ping and event types newer than this code.
        break;
    }
  }
  throw new KeelError('model-stream-cut', `The Anthropic stream for ${modelId} ended before message_stop; the call can be retried.`, {
    details: { provider: 'anthropic', model: modelId, responseId: id },
  });
}

function startBlock(shell: Record<string, unknown>, toolCount: number): BlockState {
  switch (shell.type) {
    case 'text':
      return { kind: 'text', text: typeof shell.text === 'string' ? shell.text : '' };
    case 'thinking':
      return { kind: 'thinking', thinking: typeof shell.thinking === 'string' ? shell.thinking : '', signature: typeof shell.signature === 'string' ? shell.signature : '' };
    case 'tool_use':
      return { kind: 'tool', id: String(shell.id), name: String(shell.name), json: '', shellInput: shell.input, ordinal: toolCount };
    default:
      return typeof shell.type === 'string' && isHostedBlockType(shell.type) ? { kind: 'hosted', shell, json: '' } : { kind: 'ignored' };
  }
}

function applyDelta(state: BlockState | undefined, delta: Record<string, unknown>): ModelStreamPart | null {
  if (state === undefined) return null;
  if (delta.type === 'text_delta' && state.kind === 'text' && typeof delta.text === 'string') {
    state.text += delta.text;
    return { type: 'text-delta', text: delta.text };
  }
  if (delta.type === 'input_json_delta' && state.kind === 'hosted' && typeof delta.partial_json === 'string') {
    state.json += delta.partial_json;
    return null;
  }
  if (delta.type === 'input_json_delta' && state.kind === 'tool' && typeof delta.partial_json === 'string') {
    state.json += delta.partial_json;
    return delta.partial_json === '' ? null : { type: 'tool-call-delta', index: state.ordinal, argumentsDelta: delta.partial_json };
  }
  if (delta.type === 'thinking_delta' && state.kind === 'thinking' && typeof delta.thinking === 'string') {
    state.thinking += delta.thinking;
    return { type: 'thinking-delta', text: delta.thinking };
  }
  if (delta.type === 'signature_delta' && state.kind === 'thinking' && typeof delta.signature === 'string') {
    state.signature += delta.signature;
  }
  return null;
}

function finishTool(state: Extract<BlockState, { kind: 'tool' }>): ContentBlock {
  const shellIsObject = state.shellInput !== null && typeof state.shellInput === 'object' && Object.keys(state.shellInput).length > 0;
  if (state.json === '' && shellIsObject) return { type: 'tool_use', id: state.id, name: state.name, input: state.shellInput };
  return { type: 'tool_use', id: state.id, name: state.name, ...parseToolArguments(state.json) };
}

function toContentBlock(state: BlockState): ContentBlock | null {
  switch (state.kind) {
    case 'text':
      return { type: 'text', text: state.text };
    case 'thinking':
      return { type: 'thinking', thinking: state.thinking, ...(state.signature === '' ? {} : { signature: state.signature }) };
    case 'tool':
      return state.done ?? finishTool(state);
    case 'hosted':
      return hostedBlock(state.json === '' ? state.shell : { ...state.shell, input: parseHostedInput(state.json) });
    case 'ignored':
      return null;
  }
}

/** The provider ran the call itself, so its input is kept as sent; text that is not JSON is kept as text. */
function parseHostedInput(json: string): unknown {
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return json;
  }
}

/** `message_delta` usage is cumulative; null fields mean "unchanged", so only present numbers replace earlier ones. */
function mergeUsage(current: AnthropicUsageShape, next: AnthropicUsageShape | undefined): AnthropicUsageShape {
  if (next === undefined || next === null) return current;
  const merged: Record<string, unknown> = { ...current };
  for (const key of ['input_tokens', 'output_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens'] as const) {
    const value = next[key];
    if (typeof value === 'number') merged[key] = value;
  }
  if (next.cache_creation !== undefined && next.cache_creation !== null) merged.cache_creation = next.cache_creation;
  if (next.server_tool_use !== undefined && next.server_tool_use !== null) merged.server_tool_use = next.server_tool_use;
  return merged as AnthropicUsageShape;
}
