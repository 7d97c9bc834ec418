import type { ContentBlock } from '../spec/message.ts';
import type { ModelResponse } from '../spec/model.ts';
import type { StopReason } from '../spec/stop-reason.ts';
import type { Usage } from '../spec/usage.ts';
import { fallbackStopReason } from './fallback-stop-reason.ts';
import { parseToolArguments } from './tool-arguments.ts';

/** The subset of a `ChatCompletion` Keel reads, typed loosely so that compatible servers' extras and gaps both fit. */
export interface OpenAICompletionShape {
  readonly id: string;
  readonly model: string;
  readonly choices: readonly {
    readonly finish_reason: string | null;
    readonly message: OpenAIMessageShape;
  }[];
  readonly usage?: OpenAIUsageShape | null;
}

export interface OpenAIMessageShape {
  readonly content?: string | null;
  readonly refusal?: string | null;
  /** vLLM and DeepSeek send `reasoning_content`, Ollama `reasoning`; OpenAI sends neither. */
  readonly reasoning_content?: string | null;
  readonly reasoning?: string | null;
  readonly tool_calls?: readonly { readonly id: string; readonly type?: string; readonly function?: { readonly name: string; readonly arguments: string } }[] | null;
  readonly function_call?: { readonly name: string; readonly arguments: string } | null;
  /** Web search citations (`url_citation`), on the search models. */
  readonly annotations?: readonly Readonly<Record<string, unknown>>[] | null;
}

export interface OpenAIUsageShape {
  readonly prompt_tokens?: number | null;
  readonly completion_tokens?: number | null;
  readonly prompt_tokens_details?: { readonly cached_tokens?: number | null; readonly cache_write_tokens?: number | null } | null;
}

export function fromOpenAICompletion(completion: OpenAICompletionShape): ModelResponse {
  const choice = completion.choices[0];
  const message = choice?.message ?? {};
  const content: ContentBlock[] = [];
  const reasoning = message.reasoning_content ?? message.reasoning;
  if (typeof reasoning === 'string' && reasoning !== '') content.push({ type: 'thinking', thinking: reasoning });
  if (typeof message.content === 'string' && message.content !== '') content.push({ type: 'text', text: message.content });
  const refused = typeof message.refusal === 'string';
  if (refused) content.push({ type: 'text', text: message.refusal ?? '' });
  if (Array.isArray(message.annotations) && message.annotations.length > 0) {
    // The hosted web search's citations: kept for the journal and trace; Chat Completions takes nothing of it back.
    content.push({ type: 'hosted_tool', provider: 'openai', kind: 'annotations', name: 'web_search', data: { annotations: message.annotations } });
  }
  for (const call of message.tool_calls ?? []) {
    if (call.function === undefined) continue;
    content.push({ type: 'tool_use', id: call.id, name: call.function.name, ...parseToolArguments(call.function.arguments) });
  }
  if (message.function_call !== undefined && message.function_call !== null) {
    // The legacy single function call has no id; one derived from the response keeps replays stable.
    content.push({ type: 'tool_use', id: `${completion.id}-function-call`, name: message.function_call.name, ...parseToolArguments(message.function_call.arguments) });
  }
  const providerStopReason = choice?.finish_reason ?? '';
  return {
    id: completion.id,
    model: completion.model,
    content,
    stopReason: mapOpenAIFinishReason(providerStopReason, refused, content),
    providerStopReason,
    usage: mapOpenAIUsage(completion.usage),
  };
}

const finishReasons: Readonly<Record<string, StopReason>> = {
  stop: 'end_turn',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  length: 'max_tokens',
  content_filter: 'content_filter',
};

/** A refusal arrives with finish reason `stop`; the refusal field, not the finish reason, says what happened. */
export function mapOpenAIFinishReason(finishReason: string, refused: boolean, content: readonly ContentBlock[]): StopReason {
  if (refused) return 'refusal';
  return finishReasons[finishReason] ?? fallbackStopReason(content);
}

/** OpenAI's prompt_tokens include cached tokens; Keel's inputTokens, like Anthropic's, do not. */
export function mapOpenAIUsage(usage: OpenAIUsageShape | null | undefined): Usage {
  const cacheRead = usage?.prompt_tokens_details?.cached_tokens ?? 0;
  const cacheWrite = usage?.prompt_tokens_details?.cache_write_tokens ?? 0;
  return {
    inputTokens: Math.max(0, (usage?.prompt_tokens ?? 0) - cacheRead - cacheWrite),
    outputTokens: usage?.completion_tokens ?? 0,
    cacheReadTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
  };
}
