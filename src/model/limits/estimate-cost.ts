import type { LimitCost } from '../../spec/provider-limits.ts';
import type { ModelRequest } from '../../spec/model.ts';
import type { Usage } from '../../spec/usage.ts';
import { utf8ByteLength } from '../../util/index.ts';
import { costOf } from './queue-tuning.ts';

/**
 * What a call is expected to take before it is sent: one request, its input counted from the request's text (a
 * byte per third of a token, over the JSON with its punctuation: above what tokenizers count for prose and code, so the
 * reservation is rarely short), and `maxOutputTokens` of output, as providers themselves reserve output at the start.
 * The difference is given back when the usage is known.
 */
export function estimateCallCost(request: ModelRequest): LimitCost {
  const text = JSON.stringify({ system: request.system ?? '', messages: request.messages, tools: request.tools });
  return costOf({ requests: 1, inputTokens: Math.ceil(utf8ByteLength(text) / 3), outputTokens: request.maxOutputTokens });
}

/** What the call really took: cache writes count as input (cache reads do not count against the input limits). */
export function usageCost(usage: Usage): LimitCost {
  return costOf({ requests: 1, inputTokens: usage.inputTokens + usage.cacheWriteTokens, outputTokens: usage.outputTokens });
}
