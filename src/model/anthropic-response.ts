import type { ContentBlock } from '../spec/message.ts';
import type { ModelResponse } from '../spec/model.ts';
import type { StopReason } from '../spec/stop-reason.ts';
import type { Usage } from '../spec/usage.ts';
import { fallbackStopReason } from './fallback-stop-reason.ts';
import { parseToolArguments } from './tool-arguments.ts';
import { canonicalJson } from '../util/index.ts';

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
}

export function fromAnthropicMessage(message: AnthropicMessageShape): ModelResponse {
  const content = message.content.map(fromAnthropicBlock).filter((block): block is ContentBlock => block !== null);
  const providerStopReason = message.stop_reason ?? '';
  return {
    id: message.id,
    model: message.model,
    content,
    stopReason: mapAnthropicStopReason(providerStopReason, content),
    providerStopReason,
    usage: mapAnthropicUsage(message.usage),
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
      // redacted_thinking and server-tool blocks have no Keel shape; they are dropped, not invented.
      return null;
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
  return {
    inputTokens: usage?.input_tokens ?? 0,
    outputTokens: usage?.output_tokens ?? 0,
    cacheReadTokens: usage?.cache_read_input_tokens ?? 0,
    cacheWriteTokens: usage?.cache_creation_input_tokens ?? 0,
  };
}
