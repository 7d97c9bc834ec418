import type { ContentBlock, Message } from './message.ts';
import type { StopReason } from './stop-reason.ts';
import type { Usage } from './usage.ts';
import type { HostedToolSpec, PromptCachingSpec } from './model-call.ts';

/** What the model is told about a tool: a name, a description and a JSON Schema for its input. */
export interface ToolSpec {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: Readonly<Record<string, unknown>>;
}

export type ToolChoice = 'auto' | 'any' | 'none' | { readonly name: string };

export interface ModelRequest {
  readonly system?: string;
  readonly messages: readonly Message[];
  readonly tools: readonly ToolSpec[];
  readonly maxOutputTokens: number;
  readonly temperature?: number;
  /** Nucleus sampling. Chat Completions sends it; Anthropic's current API version has no sampling parameters. */
  readonly topP?: number;
  readonly stopSequences?: readonly string[];
  /** Best-effort determinism where the provider has a seed (OpenAI); others do not send it. */
  readonly seed?: number;
  readonly toolChoice?: ToolChoice;
  /** Tools the provider runs itself; their blocks come back as `hosted_tool` content. */
  readonly hostedTools?: readonly HostedToolSpec[];
  /** Anthropic: `cache_control` breakpoints on the stable prefix. OpenAI caches prefixes by itself. */
  readonly promptCaching?: PromptCachingSpec;
}

export interface ModelResponse {
  /** The provider's response id (`msg_…`, `chatcmpl-…`). */
  readonly id: string;
  /** The model the provider says answered, which may be more specific than the one asked for. */
  readonly model: string;
  readonly content: readonly ContentBlock[];
  readonly stopReason: StopReason;
  /** The provider's own word for why it stopped, kept for tracing. */
  readonly providerStopReason: string;
  readonly usage: Usage;
  /** Uses of hosted tools the provider bills per use, by tool (`web_search`: 3). */
  readonly hostedToolUse?: Readonly<Record<string, number>>;
}

export type ModelStreamPart =
  | { readonly type: 'text-delta'; readonly text: string }
  | { readonly type: 'thinking-delta'; readonly text: string }
  | { readonly type: 'tool-call-start'; readonly index: number; readonly id: string; readonly name: string }
  | { readonly type: 'tool-call-delta'; readonly index: number; readonly argumentsDelta: string }
  /** Always the last part of a stream that did not throw. */
  | { readonly type: 'finish'; readonly response: ModelResponse };

/**
 * The provider's own count of the input tokens a request would use (Anthropic's `POST /v1/messages/count_tokens`):
 * exact where a local tokenizer can only estimate. It counts system, tools, tool choice and messages; the output
 * settings of the request are ignored.
 */
export interface ExactTokenCounter {
  countTokens(request: ModelRequest, signal: AbortSignal): Promise<number>;
}

/** One call to one model. No retries and no rate limits here: the gateway adds those. */
export interface Model {
  readonly provider: string;
  readonly modelId: string;
  generate(request: ModelRequest, signal: AbortSignal): Promise<ModelResponse>;
  stream(request: ModelRequest, signal: AbortSignal): AsyncIterable<ModelStreamPart>;
  /** Present only when the provider can count exactly and credentials are configured; other models need nothing. */
  readonly countTokens?: ExactTokenCounter['countTokens'];
}
