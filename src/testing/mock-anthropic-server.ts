import type { ServerResponse } from 'node:http';
import { isMockFault, retryAfterHeaders } from './mock-faults.ts';
import type { MockFault } from './mock-faults.ts';
import { countTokensProblem, mockInputTokens } from './mock-anthropic-count-tokens.ts';
import { nextReply, pieces, sendJson, sendTruncatedJson, startMockHttpServer } from './mock-http-server.ts';
import type { MockExchange, MockScript, MockServer } from './mock-http-server.ts';
import { startEventStream, writeEvent } from './sse.ts';
import { createMockRateLimiter, generousMockLimits, mockRetryAfterHeaders } from './mock-rate-limits.ts';
import type { MockRateLimiter } from './mock-rate-limits.ts';

export type AnthropicMockBlock =
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'tool_use'; readonly id?: string; readonly name: string; readonly input: Readonly<Record<string, unknown>> }
  | { readonly type: 'thinking'; readonly thinking: string; readonly signature: string };

export interface AnthropicMockUsage {
  readonly input_tokens?: number;
  readonly output_tokens?: number;
  readonly cache_read_input_tokens?: number | null;
  readonly cache_creation_input_tokens?: number | null;
}

/** A normal reply; `stopReason` defaults to `tool_use` when the content has a tool call, else `end_turn`. */
export interface AnthropicMockResponse {
  readonly content: readonly AnthropicMockBlock[];
  readonly stopReason?: string;
  readonly usage?: AnthropicMockUsage;
  readonly model?: string;
  readonly id?: string;
}

export type AnthropicMockReply = AnthropicMockResponse | MockFault<AnthropicMockResponse>;

/** A count-tokens answer: `inputTokens` overrides the mock's counting rule (see mock-anthropic-count-tokens.ts). */
export interface AnthropicMockCount {
  readonly inputTokens?: number;
}

export type AnthropicMockCountReply = AnthropicMockCount | MockFault<AnthropicMockCount>;

export interface MockAnthropicServerOptions {
  readonly script: MockScript<AnthropicMockReply>;
  /**
   * Replies of `POST /v1/messages/count_tokens`, played like `script` but with their own index, so counting never
   * shifts the Messages replies. Past the end of a queue, or without one, the count follows the mock's rule.
   */
  readonly countTokens?: MockScript<AnthropicMockCountReply>;
  /** When set, a request whose `x-api-key` (or bearer token) differs gets the real 401. */
  readonly apiKey?: string;
  /**
   * Limits the mock enforces on `/v1/messages` (`createMockRateLimiter`): a request over them gets the real 429 with
   * `retry-after`, every response the `anthropic-ratelimit-*` headers of the buckets' true state, and the reported
   * input usage is the mock's count of the request. Without it, the headers are those of a generous account.
   */
  readonly rateLimits?: MockRateLimiter;
}

const defaultResponse: AnthropicMockResponse = { content: [{ type: 'text', text: 'Hello from the mock Anthropic server.' }] };

/**
 * A local stand-in for `POST /v1/messages` that speaks the real wire format (JSON or SSE, per `stream`),
 * including its failures, and for `POST /v1/messages/count_tokens` (`{"input_tokens": N}`, the real checks and
 * errors, N by a documented made-up rule: a test double, not Claude's tokenizer). Give `baseURL` to the Anthropic SDK.
 * @example
 * ```ts
 * const server = await startMockAnthropicServer({
 *   script: [{ fault: 'overloaded' }, { content: [{ type: 'text', text: 'Hello.' }] }],
 * });
 * try {
 *   const model = createAnthropicModel({ modelId: 'claude-sonnet-4-6', baseURL: server.baseURL, apiKey: 'test-key' });
 *   const keel = createKeel({ model, journal: createMemoryJournal(), blobs: createMemoryBlobStore() });
 *   expect((await keel.run(agent, 'Say hello.').result).output).toBe('Hello.');
 *   expect(server.requests).toHaveLength(2); // the overloaded answer was retried
 * } finally {
 *   await server.close();
 * }
 * ```
 */
export async function startMockAnthropicServer(options: MockAnthropicServerOptions): Promise<MockServer> {
  let index = 0;
  let countIndex = 0;
  const limiter = options.rateLimits ?? createMockRateLimiter(generousMockLimits);
  return startMockHttpServer(async (exchange) => {
    const { request, response } = exchange;
    let headers = { ...commonHeaders(exchange.number), ...limiter.anthropicHeaders() };
    const path = request.path.split('?')[0];
    if (request.method !== 'POST' || (path !== '/v1/messages' && path !== '/v1/messages/count_tokens')) {
      sendError(response, 404, 'not_found_error', `mock: no route ${request.method} ${request.path}`, headers);
      return;
    }
    const authProblem = credentialProblem(request.headers, options.apiKey, path === '/v1/messages/count_tokens');
    if (authProblem !== null) {
      sendError(response, 401, 'authentication_error', authProblem, headers);
      return;
    }
    if (path === '/v1/messages/count_tokens') {
      const reply = options.countTokens === undefined ? undefined : nextReply(options.countTokens, request.body, countIndex);
      countIndex += 1;
      await countTokens(exchange, reply ?? {}, headers);
      return;
    }
    const body = (request.body ?? {}) as { stream?: boolean; model?: string; max_tokens?: number };
    const counted = mockInputTokens(request.body);
    const admission = limiter.admit({ inputTokens: counted, maxOutputTokens: typeof body.max_tokens === 'number' ? body.max_tokens : 0 });
    headers = { ...commonHeaders(exchange.number), ...limiter.anthropicHeaders() };
    if (!admission.admitted) {
      sendError(response, 429, 'rate_limit_error', rateLimitMessage(admission.limit), { ...headers, ...mockRetryAfterHeaders(admission, false) });
      return;
    }
    const reply = nextReply(options.script, request.body, index);
    index += 1;
    if (reply === undefined) {
      limiter.finish(admission, { inputTokens: counted, outputTokens: 0 });
      sendError(response, 400, 'invalid_request_error', `mock: the script has ${index - 1} replies; this is request ${index}`, headers);
      return;
    }
    const streaming = body.stream === true;
    const model = typeof body.model === 'string' ? body.model : 'claude-mock';
    // The answer the reply ends in (itself, or a delayed one's); with limits set, its input usage is what the limits counted.
    const answered = isMockFault(reply) ? (reply.fault === 'slow-first-byte' ? (reply.response ?? defaultResponse) : undefined) : reply;
    const served = answered === undefined || options.rateLimits === undefined ? answered : { ...answered, usage: { input_tokens: counted, ...answered.usage } };
    const usage = served === undefined ? undefined : fullUsage(served.usage);
    limiter.finish(admission, usage === undefined ? { inputTokens: counted, outputTokens: 0 } : { inputTokens: usage.input_tokens + (usage.cache_creation_input_tokens ?? 0), outputTokens: usage.output_tokens });
    if (!isMockFault(reply)) {
      await respond(exchange, served ?? reply, streaming, model, headers);
      return;
    }
    await playFault(exchange, reply.fault === 'slow-first-byte' && served !== undefined ? { ...reply, response: served } : reply, streaming, model, headers);
  }, '');
}

/**
 * The count-tokens endpoint (wire-formats.md §1): the real header and body checks, then `{"input_tokens": N}` with N
 * by the mock's documented rule. A scripted fault plays as on `/v1/messages`, before the body is looked at, as a
 * server-side failure would.
 */
async function countTokens(exchange: MockExchange, reply: AnthropicMockCountReply, headers: Record<string, string>): Promise<void> {
  const { request, response } = exchange;
  if (request.headers['anthropic-version'] === undefined) {
    sendError(response, 400, 'invalid_request_error', 'anthropic-version: header is required', headers);
    return;
  }
  let count: AnthropicMockCount = isMockFault(reply) ? {} : reply;
  if (isMockFault(reply)) {
    if (sendFaultError(response, reply, headers)) return;
    switch (reply.fault) {
      case 'slow-first-byte':
        await exchange.later(reply.delayMs);
        if (!exchange.connected()) return;
        count = reply.response ?? {};
        break;
      case 'reset':
        exchange.reset();
        return;
      case 'cut':
        sendTruncatedJson(response, { input_tokens: reply.response?.inputTokens ?? mockInputTokens(request.body) }, headers);
        return;
      default:
        // The stream faults have no meaning for a JSON endpoint; answer as the real API answers a failed request.
        sendError(response, 500, 'api_error', 'Internal server error', headers);
        return;
    }
  }
  const problem = countTokensProblem(request.body);
  if (problem !== null) {
    sendError(response, 400, 'invalid_request_error', problem, headers);
    return;
  }
  sendJson(response, 200, { input_tokens: count.inputTokens ?? mockInputTokens(request.body) }, headers);
}

/** The real 401s: no credential at all (always, on count_tokens), or not the key the mock was started with. */
function credentialProblem(requestHeaders: Readonly<Record<string, string>>, apiKey: string | undefined, required: boolean): string | null {
  const given = requestHeaders['x-api-key'] ?? requestHeaders.authorization?.replace(/^Bearer\s+/i, '');
  if (given === undefined || given === '') return required || apiKey !== undefined ? 'x-api-key header is required' : null;
  return apiKey !== undefined && given !== apiKey ? 'invalid x-api-key' : null;
}

/** Faults that are an HTTP error and nothing else, the same on every route; false for the others. */
function sendFaultError(response: ServerResponse, fault: MockFault<unknown>, headers: Record<string, string>): boolean {
  switch (fault.fault) {
    case 'rate-limit':
      sendError(response, 429, 'rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit', { ...headers, ...retryAfterHeaders(fault) });
      return true;
    case 'overloaded':
      sendError(response, 529, 'overloaded_error', 'Overloaded', headers);
      return true;
    case 'server-error':
      sendError(response, 500, 'api_error', 'Internal server error', { ...headers, ...(fault.shouldRetry === undefined ? {} : { 'x-should-retry': String(fault.shouldRetry) }) });
      return true;
    case 'quota':
      sendError(response, 402, 'billing_error', 'Your credit balance is too low to access the Anthropic API.', headers);
      return true;
    case 'bad-request':
      sendError(response, 400, 'invalid_request_error', fault.message ?? 'messages: at least one message is required', headers);
      return true;
    case 'auth':
      sendError(response, 401, 'authentication_error', 'invalid x-api-key', headers);
      return true;
    case 'context-window':
      sendError(response, 400, 'invalid_request_error', 'prompt is too long: 215000 tokens > 200000 maximum', headers);
      return true;
    default:
      return false;
  }
}

async function playFault(exchange: MockExchange, fault: MockFault<AnthropicMockResponse>, streaming: boolean, model: string, headers: Record<string, string>): Promise<void> {
  const { response } = exchange;
  if (sendFaultError(response, fault, headers)) return;
  switch (fault.fault) {
    case 'slow-first-byte':
      await exchange.later(fault.delayMs);
      if (exchange.connected()) await respond(exchange, fault.response ?? defaultResponse, streaming, model, headers);
      return;
    case 'reset':
      if (!streaming) {
        exchange.reset();
        return;
      }
      startEventStream(response, headers);
      writeEvent(response, messageStart(exchange.number, model, {}), 'message_start');
      writeEvent(response, { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start');
      writeEvent(response, { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Partial ' } }, 'content_block_delta');
      await exchange.later(20);
      exchange.reset();
      return;
    case 'cut': {
      const reply = fault.response ?? defaultResponse;
      if (!streaming) {
        sendTruncatedJson(response, messageBody(exchange.number, model, reply), headers);
        return;
      }
      startEventStream(response, headers);
      writeStream(response, exchange.number, model, reply, false);
      response.end();
      return;
    }
    case 'malformed-tool-json': {
      if (!streaming) {
        sendError(response, 400, 'invalid_request_error', "mock: the 'malformed-tool-json' fault needs stream:true (the Anthropic API returns tool input as a parsed object)", headers);
        return;
      }
      const name = fault.name ?? 'lookup';
      const text = fault.arguments ?? '{"city": "Par';
      startEventStream(response, headers);
      writeEvent(response, messageStart(exchange.number, model, {}), 'message_start');
      writeToolBlock(response, 0, `toolu_mock_${exchange.number}_1`, name, text);
      writeEvent(response, { type: 'message_delta', delta: { stop_reason: fault.stopReason ?? 'tool_use', stop_sequence: null }, usage: { output_tokens: 12 } }, 'message_delta');
      writeEvent(response, { type: 'message_stop' }, 'message_stop');
      response.end();
      return;
    }
    case 'stream-error': {
      const errorType = fault.errorType ?? 'overloaded_error';
      if (!streaming) {
        sendError(response, statusForErrorType(errorType), errorType, 'Overloaded', headers);
        return;
      }
      startEventStream(response, headers);
      writeEvent(response, messageStart(exchange.number, model, {}), 'message_start');
      writeEvent(response, { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start');
      writeEvent(response, { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Partial ' } }, 'content_block_delta');
      writeEvent(response, { type: 'error', error: { type: errorType, message: errorType === 'overloaded_error' ? 'Overloaded' : 'Internal server error' } }, 'error');
      response.end();
      return;
    }
  }
}

async function respond(exchange: MockExchange, reply: AnthropicMockResponse, streaming: boolean, model: string, headers: Record<string, string>): Promise<void> {
  if (!streaming) {
    sendJson(exchange.response, 200, messageBody(exchange.number, model, reply), headers);
    return;
  }
  startEventStream(exchange.response, headers);
  writeStream(exchange.response, exchange.number, model, reply, true);
  exchange.response.end();
}

/** Streams a whole reply per the wire format: several deltas per block, a ping, cumulative usage in message_delta. */
function writeStream(response: ServerResponse, number: number, model: string, reply: AnthropicMockResponse, complete: boolean): void {
  const usage = fullUsage(reply.usage);
  writeEvent(response, messageStart(number, model, reply), 'message_start');
  reply.content.forEach((block, index) => {
    if (block.type === 'text') {
      writeEvent(response, { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }, 'content_block_start');
      if (index === 0) writeEvent(response, { type: 'ping' }, 'ping');
      for (const text of pieces(block.text)) writeEvent(response, { type: 'content_block_delta', index, delta: { type: 'text_delta', text } }, 'content_block_delta');
      writeEvent(response, { type: 'content_block_stop', index }, 'content_block_stop');
    } else if (block.type === 'thinking') {
      writeEvent(response, { type: 'content_block_start', index, content_block: { type: 'thinking', thinking: '', signature: '' } }, 'content_block_start');
      for (const thinking of pieces(block.thinking)) writeEvent(response, { type: 'content_block_delta', index, delta: { type: 'thinking_delta', thinking } }, 'content_block_delta');
      writeEvent(response, { type: 'content_block_delta', index, delta: { type: 'signature_delta', signature: block.signature } }, 'content_block_delta');
      writeEvent(response, { type: 'content_block_stop', index }, 'content_block_stop');
    } else {
      writeToolBlock(response, index, block.id ?? toolId(number, index), block.name, JSON.stringify(block.input));
    }
  });
  writeEvent(response, { type: 'message_delta', delta: { stop_reason: stopReasonOf(reply), stop_sequence: null }, usage: { output_tokens: usage.output_tokens } }, 'message_delta');
  if (complete) writeEvent(response, { type: 'message_stop' }, 'message_stop');
}

function writeToolBlock(response: ServerResponse, index: number, id: string, name: string, json: string): void {
  writeEvent(response, { type: 'content_block_start', index, content_block: { type: 'tool_use', id, name, input: {} } }, 'content_block_start');
  // The API's first fragment is often empty; clients must cope.
  writeEvent(response, { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: '' } }, 'content_block_delta');
  for (const partial_json of pieces(json)) writeEvent(response, { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } }, 'content_block_delta');
  writeEvent(response, { type: 'content_block_stop', index }, 'content_block_stop');
}

function messageStart(number: number, model: string, reply: Partial<AnthropicMockResponse>): unknown {
  const usage = fullUsage(reply.usage);
  return {
    type: 'message_start',
    message: {
      id: reply.id ?? `msg_mock_${number}`,
      type: 'message',
      role: 'assistant',
      model: reply.model ?? model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...usage, output_tokens: 1 },
    },
  };
}

function messageBody(number: number, model: string, reply: AnthropicMockResponse): unknown {
  return {
    id: reply.id ?? `msg_mock_${number}`,
    type: 'message',
    role: 'assistant',
    model: reply.model ?? model,
    content: reply.content.map((block, index) => {
      if (block.type === 'text') return { type: 'text', text: block.text, citations: null };
      if (block.type === 'thinking') return { type: 'thinking', thinking: block.thinking, signature: block.signature };
      return { type: 'tool_use', id: block.id ?? toolId(number, index), name: block.name, input: block.input, caller: { type: 'direct' } };
    }),
    stop_reason: stopReasonOf(reply),
    stop_sequence: null,
    usage: fullUsage(reply.usage),
  };
}

function fullUsage(usage: AnthropicMockUsage | undefined): Required<AnthropicMockUsage> {
  return {
    input_tokens: usage?.input_tokens ?? 25,
    output_tokens: usage?.output_tokens ?? 12,
    cache_read_input_tokens: usage?.cache_read_input_tokens === undefined ? 0 : usage.cache_read_input_tokens,
    cache_creation_input_tokens: usage?.cache_creation_input_tokens === undefined ? 0 : usage.cache_creation_input_tokens,
  };
}

function stopReasonOf(reply: AnthropicMockResponse): string {
  return reply.stopReason ?? (reply.content.some((block) => block.type === 'tool_use') ? 'tool_use' : 'end_turn');
}

function toolId(number: number, index: number): string {
  return `toolu_mock_${number}_${index + 1}`;
}

function statusForErrorType(errorType: string): number {
  const statuses: Record<string, number> = { overloaded_error: 529, api_error: 500, rate_limit_error: 429, invalid_request_error: 400, timeout_error: 504 };
  return statuses[errorType] ?? 500;
}

function sendError(response: ServerResponse, status: number, type: string, message: string, headers: Record<string, string>): void {
  sendJson(response, status, { type: 'error', error: { type, message }, request_id: headers['request-id'] }, headers);
}

function commonHeaders(number: number): Record<string, string> {
  return { 'request-id': `req_mock_${number}` };
}

function rateLimitMessage(limit: string | undefined): string {
  if (limit === 'requests') return 'Number of requests has exceeded your per-minute rate limit';
  if (limit === 'outputTokens') return 'Number of output tokens has exceeded your per-minute rate limit';
  return 'Number of request tokens has exceeded your per-minute rate limit';
}
