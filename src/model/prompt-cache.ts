import type { MessageCreateParamsBase, MessageParam, ContentBlockParam, TextBlockParam } from '@anthropic-ai/sdk/resources/messages';
import type { PromptCachingSpec } from '../spec/model-call.ts';
import type { Usage } from '../spec/usage.ts';
import { costOf } from './pricing.ts';
import type { PriceTable } from './pricing.ts';

type CacheControl = { readonly type: 'ephemeral'; readonly ttl?: '5m' | '1h' };

/**
 * Anthropic prompt caching: `cache_control` breakpoints on the parts of a request that stay the same from one turn to
 * the next, in the API's prefix order: the last tool (caching every tool definition), the system prompt, and the last
 * block of the history before the newest message. A later turn whose request starts with the same prefix reads it
 * from the cache at a tenth of the input price; writing it costs 1.25× (5 minutes) or 2× (1 hour). Three of the four
 * breakpoints the API allows; a request that has none of these parts is sent unchanged.
 */
export function placeCacheBreakpoints(params: MessageCreateParamsBase, spec: PromptCachingSpec): MessageCreateParamsBase {
  const control: CacheControl = spec.ttl === '1h' ? { type: 'ephemeral', ttl: '1h' } : { type: 'ephemeral' };
  const placed: MessageCreateParamsBase = { ...params };
  if (params.tools !== undefined && params.tools.length > 0) {
    const last = params.tools.length - 1;
    placed.tools = params.tools.map((tool, index) => (index === last ? ({ ...tool, cache_control: control } as typeof tool) : tool));
  }
  if (typeof params.system === 'string' && params.system !== '') {
    placed.system = [{ type: 'text', text: params.system, cache_control: control }];
  } else if (Array.isArray(params.system) && params.system.length > 0) {
    const blocks: TextBlockParam[] = [...params.system];
    const lastIndex = blocks.length - 1;
    placed.system = blocks.map((block, index) => (index === lastIndex ? { ...block, cache_control: control } : block));
  }
  const historyEnd = params.messages.length - 2;
  if (historyEnd >= 0) {
    placed.messages = params.messages.map((message, index) => (index === historyEnd ? markLastBlock(message, control) : message));
  }
  return placed;
}

/** Thinking blocks cannot carry a breakpoint, so it goes on the last block that can; a string becomes a text block. */
function markLastBlock(message: MessageParam, control: CacheControl): MessageParam {
  if (typeof message.content === 'string') {
    return message.content === '' ? message : { ...message, content: [{ type: 'text', text: message.content, cache_control: control }] };
  }
  const blocks: ContentBlockParam[] = [...message.content];
  for (let index = blocks.length - 1; index >= 0; index -= 1) {
    const block = blocks[index];
    if (block === undefined || block.type === 'thinking' || block.type === 'redacted_thinking') continue;
    blocks[index] = { ...block, cache_control: control } as ContentBlockParam;
    return { ...message, content: blocks } as MessageParam;
  }
  return message;
}

/**
 * What prompt caching saved on one call, in USD: the call priced as if every cached token had been ordinary input,
 * minus its real price. Negative on a call that only wrote the cache (writes cost more than input); null when the
 * model has no price.
 */
export function promptCacheSavings(provider: string, modelId: string, usage: Usage, overrides?: PriceTable): number | null {
  if (usage.cacheReadTokens === 0 && usage.cacheWriteTokens === 0) return 0;
  const actual = costOf(provider, modelId, usage, overrides);
  const uncached = costOf(provider, modelId, { inputTokens: usage.inputTokens + usage.cacheReadTokens + usage.cacheWriteTokens, outputTokens: usage.outputTokens, cacheReadTokens: 0, cacheWriteTokens: 0 }, overrides);
  if (actual === null || uncached === null) return null;
  return Math.round((uncached - actual) * 1e8) / 1e8;
}
