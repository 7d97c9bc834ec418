import type Anthropic from '@anthropic-ai/sdk';
import type { MessageCountTokensParams } from '@anthropic-ai/sdk/resources/messages';
import { KeelError } from '../errors/index.ts';
import type { ExactTokenCounter, ModelRequest } from '../spec/model.ts';
import { toAnthropicParams } from './anthropic-request.ts';
import { cancellationError, mapProviderError } from './provider-errors.ts';

/**
 * The count-tokens body of a request: the very fields the Messages body would carry for it, mapped by the same
 * function, so the count is of what will be sent. `max_tokens` and `stop_sequences` are left out because the endpoint
 * rejects fields it does not know ("Extra inputs are not permitted").
 */
export function toAnthropicCountParams(modelId: string, request: ModelRequest): MessageCountTokensParams {
  const params = toAnthropicParams(modelId, request);
  return {
    model: params.model,
    messages: params.messages,
    ...(params.system === undefined ? {} : { system: params.system }),
    ...(params.tools === undefined ? {} : { tools: params.tools }),
    ...(params.tool_choice === undefined ? {} : { tool_choice: params.tool_choice }),
  };
}

export interface AnthropicTokenCountingOptions {
  /** The model's SDK client, built (and the SDK loaded) on first use. */
  readonly client: () => Promise<Anthropic>;
  /** Whether that client holds an API key or auth token. */
  readonly credentialed: boolean;
  readonly modelId: string;
  readonly baseURL?: string;
}

/**
 * Anthropic's exact count (`POST /v1/messages/count_tokens` through the official SDK), offered only when the client
 * holds an API key or auth token: without one every call would be a 401, and the local estimate is the better answer.
 * Spread the result into the model; it is `{}` when there is nothing to offer, so the model has no `countTokens`.
 */
export function anthropicTokenCounting(options: AnthropicTokenCountingOptions): Partial<ExactTokenCounter> {
  if (!options.credentialed) return {};
  const { modelId, baseURL } = options;
  return {
    async countTokens(request: ModelRequest, signal: AbortSignal): Promise<number> {
      if (signal.aborted) throw cancellationError(signal);
      let counted: { input_tokens: unknown };
      try {
        counted = await (await options.client()).messages.countTokens(toAnthropicCountParams(modelId, request), { signal });
      } catch (error) {
        throw mapProviderError(error, { provider: 'anthropic', modelId, signal, ...(baseURL === undefined ? {} : { baseURL }) });
      }
      const tokens = counted.input_tokens;
      // A count the planner cannot trust must fail loudly here, so that the caller falls back to its estimate.
      if (typeof tokens !== 'number' || !Number.isInteger(tokens) || tokens < 0) {
        throw new KeelError('model-malformed-response', `Anthropic's count-tokens endpoint answered ${JSON.stringify(counted)} for ${modelId}, not a token count.`);
      }
      return tokens;
    },
  };
}
