import type { ContentBlock } from '../spec/message.ts';
import type { ModelResponse } from '../spec/model.ts';
import type { StopReason } from '../spec/stop-reason.ts';
import type { Usage } from '../spec/usage.ts';
import { fallbackStopReason } from './fallback-stop-reason.ts';
import { parseToolArguments } from './tool-arguments.ts';
import { canonicalJson } from '../util/index.ts';
import { anthropicHostedToolUse } from './hosted-tools.ts';

/** The subset of an Anthropic `Message` Keel reads; typed loosely because the API adds block types over time. */
export interface AnthropicMessageShape {
  readonly id: string;
  readonly model: string;
  readonly content: readonly { readonly type: string; readonly [field: string]: unknown }[];
  readonly stop_reason: string | null;
  readonly usage: AnthropicUsageShape;
}

export interface AnthropicUsageShape {
  readonly input_tokens?: number | null;
  readonly output_tokens?: number | null;
  readonly cache_read_input_tokens?: number | null;
  readonly cache_creation_input_tokens?: number | null;
  readonly cache_creation?: { readonly ephemeral_1h_input_tokens?: number | null } | null;
  readonly server_tool_use?: { readonly web_search_requests?: number | null; readonly web_fetch_requests?: number | null } | null;
}

export function fromAnthropicMessage(message: AnthropicMessageShape): ModelResponse {
  const content = message.content.map(fromAnthropicBlock).filter((block): block is ContentBlock => block !== null);
  const providerStopReason = message.stop_reason ?? '';
  const hostedToolUse = anthropicHostedToolUse(message.usage.server_tool_use, message.content);
  return {
    id: message.id,
    model: message.model,
    content,
    stopReason: mapAnthropicStopReason(providerStopReason, content),
    providerStopReason,
    usage: mapAnthropicUsage(message.usage),
    ...(hostedToolUse === undefined ? {} : { hostedToolUse }),
  };
}

/** Blocks of the provider's own tools: the call (`server_tool_use`), its results (`…_tool_result`), container files. */
export function isHostedBlockType(type: string): boolean {
  return type === 'server_tool_use' || type === 'container_upload' || (type.endsWith('_tool_result') && type !== 'tool_result');
}

export function hostedBlock(block: Readonly<Record<string, unknown>>): ContentBlock {
  const id = typeof block.id === 'string' ? block.id : typeof block.tool_use_id === 'string' ? block.tool_use_id : undefined;
  return {
    type: 'hosted_tool',
    provider: 'anthropic',
    kind: String(block.type),
    ...(typeof block.name === 'string' ? { name: block.name } : {}),
    ...(id === undefined ? {} : { id }),
    data: block,
  };
}

function fromAnthropicBlock(block: AnthropicMessageShape['content'][number]): ContentBlock | null {
  switch (block.type) {
    case 'text':
      return { type: 'text', text: String(block.text ?? '') };
    case 'tool_use': {
      const id = String(block.id);
      const name = String(block.name);
      const input = block.input;
      if (input !== null && typeof input === 'object' && !Array.isArray(input)) return { type: 'tool_use', id, name, input };
      // The API sends an object; anything else is kept as malformed text rather than trusted. canonicalJson, not
      // JSON.stringify: the value may nest deeper than a recursive serialiser survives.
      const parsed = parseToolArguments(typeof input === 'string' ? input : canonicalJson(input) ?? '');
      return { type: 'tool_use', id, name, ...parsed };
    }
    case 'thinking': {
      const signature = typeof block.signature === 'string' && block.signature !== '' ? block.signature : undefined;
      return { type: 'thinking', thinking: String(block.thinking ?? ''), ...(signature === undefined ? {} : { signature }) };
    }
    default:
      // Server-tool blocks are kept whole; redacted_thinking has no Keel shape and is dropped, not invented.
      return isHostedBlockType(block.type) ? hostedBlock(block) : null;
  }
}

const anthropicStopReasons: Readonly<Record<string, StopReason>> = {
  end_turn: 'end_turn',
  tool_use: 'tool_use',
  max_tokens: 'max_tokens',
  stop_sequence: 'stop_sequence',
  pause_turn: 'pause_turn',
  refusal: 'refusal',
  model_context_window_exceeded: 'context_window_exceeded',
};

export function mapAnthropicStopReason(stopReason: string, content: readonly ContentBlock[]): StopReason {
  return anthropicStopReasons[stopReason] ?? fallbackStopReason(content);
}

export function mapAnthropicUsage(usage: AnthropicUsageShape | undefined): Usage {
  const longWrites = usage?.cache_creation?.ephemeral_1h_input_tokens ?? 0;
  return {
    inputTokens: usage?.input_tokens ?? 0,
    outputTokens: usage?.output_tokens ?? 0,
    cacheReadTokens: usage?.cache_read_input_tokens ?? 0,
    cacheWriteTokens: usage?.cache_creation_input_tokens ?? 0,
    ...(longWrites > 0 ? { cacheWriteLongTokens: longWrites } : {}),
  };
}
