import type { LimitCost } from '../../spec/provider-limits.ts';
import type { Message } from '../../spec/message.ts';
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
  return costOf({ requests: 1, inputTokens: Math.ceil(requestJsonBytes(request) / 3), outputTokens: request.maxOutputTokens });
}

/**
 * The UTF-8 size of `JSON.stringify({ system, messages, tools })`, summed from the sizes of its parts: a request resends
 * the whole conversation every turn, and its messages and tool specs are never changed once made, so each is
 * serialised once, not once per call.
 */
function requestJsonBytes(request: ModelRequest): number {
  // {"system":…,"messages":[…],"tools":[…]}
  let bytes = '{"system":,"messages":[],"tools":[]}'.length + utf8ByteLength(JSON.stringify(request.system ?? ''));
  bytes += messagesBytes(request.messages) + listBytes(request.tools);
  return bytes;
}

/** The elements of a JSON array and the commas between them. */
function listBytes(items: readonly object[]): number {
  let bytes = items.length > 0 ? items.length - 1 : 0;
  for (const item of items) bytes += immutableJsonBytes(item);
  return bytes;
}

/** The messages of a request: `{"role":…,"content":[…]}` with the commas between them. */
function messagesBytes(messages: readonly Message[]): number {
  let bytes = messages.length > 0 ? messages.length - 1 : 0;
  for (const message of messages) bytes += messageBytes(message);
  return bytes;
}

/** `{"role":` `,"content":[` `]}` */
const plainMessageFrame = '{"role":,"content":[]}'.length;

/**
 * A message's size from the sizes of its blocks: the trust layout copies every message that carries tool results, in
 * every turn, to fence them, but the blocks themselves are made once; serialising the copies whole made the estimate
 * grow with the square of the conversation. Anything but a plain `{ role, content }` message is serialised whole.
 */
function messageBytes(message: Message): number {
  const { role, content } = message;
  if (typeof role !== 'string' || !Array.isArray(content) || !hasOnlyRoleAndContent(message)) return immutableJsonBytes(message);
  let bytes = plainMessageFrame + utf8ByteLength(JSON.stringify(role)) + (content.length > 0 ? content.length - 1 : 0);
  for (let index = 0; index < content.length; index += 1) {
    const block: unknown = content[index];
    if (typeof block !== 'object' || block === null) return immutableJsonBytes(message);
    bytes += immutableJsonBytes(block);
  }
  return bytes;
}

/** Whether JSON.stringify would write exactly the keys `role` and `content` (in whatever order: the length is the same). */
function hasOnlyRoleAndContent(message: object): boolean {
  if ('toJSON' in message) return false;
  let keys = 0;
  for (const key in message) {
    if (!Object.hasOwn(message, key)) continue;
    if (key !== 'role' && key !== 'content') return false;
    keys += 1;
  }
  return keys === 2;
}

const jsonBytes = new WeakMap<object, number>();

function immutableJsonBytes(value: object): number {
  let bytes = jsonBytes.get(value);
  if (bytes === undefined) {
    bytes = utf8ByteLength(JSON.stringify(value));
    jsonBytes.set(value, bytes);
  }
  return bytes;
}

/** What the call really took: cache writes count as input (cache reads do not count against the input limits). */
export function usageCost(usage: Usage): LimitCost {
  return costOf({ requests: 1, inputTokens: usage.inputTokens + usage.cacheWriteTokens, outputTokens: usage.outputTokens });
}
