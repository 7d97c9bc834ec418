import { canonicalJson, canonicalJsonOfImmutable } from '../util/index.ts';
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
  const messages = Array.isArray(input.messages) ? `[${input.messages.map(canonicalMessage).join(',')}]` : canonicalJson(input.messages);
  const tools = canonicalArray(input.tools);
  // The same text as canonicalJson(request), whose keys sort as maxOutputTokens, messages, system, tools; each message
  // is serialised once in the session's life rather than once per turn.
  const serialized =
    typeof input.maxOutputTokens === 'number' && typeof input.system === 'string'
      ? `{"maxOutputTokens":${JSON.stringify(input.maxOutputTokens)},"messages":${messages},"system":${JSON.stringify(input.system)},"tools":${tools}}`
      : canonicalJson(request);
  const systemTokens = estimateTokens(input.system);
  // Key order does not change a serialisation's length: these are the lengths JSON.stringify would give.
  const toolTokens = input.tools.length === 0 ? 0 : estimateTokens(tools);
  const history = estimateTokens(messages);
  return { request, serialized, tokens: { system: systemTokens, tools: toolTokens, history, total: systemTokens + toolTokens + history } };
}

/** An array of objects each made once (the tool specs): a new array around them costs only the join. */
function canonicalArray(items: readonly object[]): string {
  if (!Array.isArray(items)) return canonicalJson(items);
  const texts: string[] = [];
  for (let index = 0; index < items.length; index += 1) {
    const item: unknown = items[index];
    if (typeof item !== 'object' || item === null) return canonicalJson(items);
    texts.push(canonicalJsonOfImmutable(item));
  }
  return `[${texts.join(',')}]`;
}

/**
 * A message's canonical JSON, from the cached text of each content block: the trust layout copies a message to fence
 * its results, but the fenced blocks themselves are made once. Anything but a plain message takes the general path.
 */
function canonicalMessage(message: Message): string {
  const keys = Object.keys(message);
  const { role, content } = message;
  if (keys.length !== 2 || !keys.includes('role') || !keys.includes('content') || typeof role !== 'string' || !Array.isArray(content)) return canonicalJson(message);
  const blocks: string[] = [];
  for (let index = 0; index < content.length; index += 1) {
    const block: unknown = content[index];
    if (typeof block !== 'object' || block === null) return canonicalJson(message);
    blocks.push(canonicalJsonOfImmutable(block));
  }
  return `{"content":[${blocks.join(',')}],"role":${JSON.stringify(role)}}`;
}
