import { canonicalJson } from '../util/index.ts';
import type { Message } from '../spec/message.ts';
import type { ModelRequest, ToolSpec } from '../spec/model.ts';

export interface AssembledRequest {
  readonly request: ModelRequest;
  /** The canonical serialisation that is stored as a blob and hashed: replay rebuilds this exact text. */
  readonly serialized: string;
  readonly tokens: { readonly system: number; readonly tools: number; readonly history: number; readonly total: number };
}

/**
 * Until a tokenizer is configured, tokens are estimated at four characters per token, the usual
 * rule of thumb for English prose and JSON; the journal marks such figures as estimates.
 */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export function assembleRequest(input: {
  readonly system: string;
  readonly messages: readonly Message[];
  readonly tools: readonly ToolSpec[];
  readonly maxOutputTokens: number;
}): AssembledRequest {
  const request: ModelRequest = {
    system: input.system,
    messages: input.messages,
    tools: input.tools,
    maxOutputTokens: input.maxOutputTokens,
  };
  const serialized = canonicalJson(request);
  const system = estimateTokens(input.system);
  const tools = input.tools.length === 0 ? 0 : estimateTokens(JSON.stringify(input.tools));
  const history = estimateTokens(JSON.stringify(input.messages));
  return { request, serialized, tokens: { system, tools, history, total: system + tools + history } };
}
