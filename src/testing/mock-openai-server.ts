import type { ServerResponse } from 'node:http';
import { isMockFault, retryAfterHeaders } from './mock-faults.ts';
import type { MockFault } from './mock-faults.ts';
import { nextReply, pieces, sendJson, sendTruncatedJson, startMockHttpServer } from './mock-http-server.ts';
import type { MockExchange, MockScript, MockServer } from './mock-http-server.ts';
import { startEventStream, writeEvent } from './sse.ts';
import { createMockRateLimiter, generousMockLimits, mockPromptTokens, mockRetryAfterHeaders } from './mock-rate-limits.ts';
import type { MockRateLimiter } from './mock-rate-limits.ts';

export interface OpenAIMockToolCall {
  readonly id?: string;
  readonly name: string;
  /** An object is sent as its JSON; a string is sent as it is, valid JSON or not. */
  readonly arguments: string | Readonly<Record<string, unknown>>;
}

export interface OpenAIMockUsage {
  readonly prompt_tokens?: number;
  readonly completion_tokens?: number;
  readonly cached_tokens?: number;
}

/** A normal reply; `finishReason` defaults to `tool_calls` when there are tool calls, else `stop`. */
export interface OpenAIMockResponse {
  readonly content?: string | null;
  readonly toolCalls?: readonly OpenAIMockToolCall[];
  /** Sent as `message.refusal` (or `delta.refusal`), with content null, as OpenAI reports a refusal. */
  readonly refusal?: string;
  readonly finishReason?: string;
  /** `null` plays a compatible server that reports no usage (no usage chunk, no `usage` field). */
  readonly usage?: OpenAIMockUsage | null;
  readonly model?: string;
  readonly id?: string;
}

export type OpenAIMockReply = OpenAIMockResponse | MockFault<OpenAIMockResponse>;

export interface MockOpenAIServerOptions {
  readonly script: MockScript<OpenAIMockReply>;
  /**
   * Limits the mock enforces (`createMockRateLimiter`; requests and tokens, input plus `max_tokens` reserved): a
   * request over them gets the real 429 with `retry-after` and `retry-after-ms`, every response the `x-ratelimit-*`
   * headers of the buckets' true state, and the reported prompt usage is the mock's count (`mockPromptTokens`).
   * Without it, the headers are those of a generous account.
   */
  readonly rateLimits?: MockRateLimiter;
}

const defaultResponse: OpenAIMockResponse = { content: 'Hello from the mock OpenAI server.' };

/**
 * A local stand-in for `POST /v1/chat/completions` that speaks the real wire format (JSON, or `data:` chunks
 * ending in `[DONE]`), including its failures. Give `baseURL` (which ends in `/v1`) to the OpenAI SDK.
 * @example
 * ```ts
 * const server = await startMockOpenAIServer({
 *   script: [{ toolCalls: [{ name: 'lookup_order', arguments: { orderId: '1042' } }] }, { content: 'Order 1042 shipped on Monday.' }],
 * });
 * try {
 *   const model = createOpenAIModel({ modelId: 'gpt-4.1-mini', baseURL: server.baseURL, apiKey: 'test-key' });
 *   const keel = createKeel({ model, journal: createMemoryJournal(), blobs: createMemoryBlobStore() });
 *   expect((await keel.run(agent, 'Where is order 1042?').result).output).toBe('Order 1042 shipped on Monday.');
 * } finally {
 *   await server.close();
 * }
 * ```
 */
export async function startMockOpenAIServer(options: MockOpenAIServerOptions): Promise<MockServer> {
  let index = 0;
  const limiter = options.rateLimits ?? createMockRateLimiter(generousMockLimits);
  return startMockHttpServer(async (exchange) => {
    const { request, response } = exchange;
    let headers = { ...commonHeaders(exchange.number), ...limiter.openAIHeaders() };
    if (request.method !== 'POST' || request.path.split('?')[0] !== '/v1/chat/completions') {
      sendError(response, 404, { message: `mock: no route ${request.method} ${request.path}`, type: 'invalid_request_error', code: 'unknown_url' }, headers);
      return;
    }
    const body = (request.body ?? {}) as { stream?: boolean; model?: string; stream_options?: { include_usage?: boolean }; max_tokens?: number; max_completion_tokens?: number };
    const counted = mockPromptTokens(request.body);
    const maxOutputTokens = body.max_completion_tokens ?? body.max_tokens ?? 0;
    const admission = limiter.admit({ inputTokens: counted, maxOutputTokens: typeof maxOutputTokens === 'number' ? maxOutputTokens : 0 });
    headers = { ...commonHeaders(exchange.number), ...limiter.openAIHeaders() };
    if (!admission.admitted) {
      const what = admission.limit === 'requests' ? 'requests per min (RPM)' : 'tokens per min (TPM)';
      sendError(response, 429, { message: `Rate limit reached for ${typeof body.model === 'string' ? body.model : 'gpt-mock'} on ${what}. Please try again in ${admission.retryAfterMs}ms.`, type: admission.limit === 'requests' ? 'requests' : 'tokens', code: 'rate_limit_exceeded' }, { ...headers, ...mockRetryAfterHeaders(admission, true) });
      return;
    }
    const scripted = nextReply(options.script, request.body, index);
    index += 1;
    // The answer the reply ends in (itself, or a delayed one's); with limits set, its prompt usage is what the limits counted.
    const answered = scripted === undefined ? undefined : isMockFault(scripted) ? (scripted.fault === 'slow-first-byte' ? (scripted.response ?? defaultResponse) : undefined) : scripted;
    const served = answered === undefined || options.rateLimits === undefined || answered.usage === null ? answered : { ...answered, usage: { prompt_tokens: counted, ...answered.usage } };
    limiter.finish(admission, served === undefined ? { inputTokens: counted, outputTokens: 0 } : { inputTokens: served.usage?.prompt_tokens ?? 25, outputTokens: served.usage?.completion_tokens ?? 12 });
    const reply = scripted !== undefined && isMockFault(scripted) && scripted.fault === 'slow-first-byte' && served !== undefined ? { ...scripted, response: served } : scripted === undefined || isMockFault(scripted) ? scripted : served;
    if (reply === undefined) {
      sendError(response, 400, { message: `mock: the script has ${index - 1} replies; this is request ${index}`, type: 'invalid_request_error' }, headers);
      return;
    }
    const call: CallFacts = {
      number: exchange.number,
      model: typeof body.model === 'string' ? body.model : 'gpt-mock',
      streaming: body.stream === true,
      includeUsage: body.stream_options?.include_usage === true,
    };
    if (!isMockFault(reply)) {
      respond(response, reply, call, headers);
      return;
    }
    await playFault(exchange, reply, call, headers);
  }, '/v1');
}

interface CallFacts {
  readonly number: number;
  readonly model: string;
  readonly streaming: boolean;
  readonly includeUsage: boolean;
}

async function playFault(exchange: MockExchange, fault: MockFault<OpenAIMockResponse>, call: CallFacts, headers: Record<string, string>): Promise<void> {
  const { response } = exchange;
  switch (fault.fault) {
    case 'rate-limit':
      sendError(
        response,
        429,
        { message: `Rate limit reached for ${call.model} on requests per min (RPM): Limit 3, Used 3, Requested 1.`, type: 'requests', code: 'rate_limit_exceeded' },
        { ...headers, 'x-ratelimit-remaining-requests': '0', ...retryAfterHeaders(fault) },
      );
      return;
    case 'quota':
      sendError(response, 429, { message: 'You exceeded your current quota, please check your plan and billing details.', type: 'insufficient_quota', code: 'insufficient_quota' }, headers);
      return;
    case 'overloaded':
      sendError(response, 503, { message: 'The server is overloaded or not ready yet.', type: 'server_error' }, headers);
      return;
    case 'server-error':
      sendError(response, 500, { message: 'The server had an error while processing your request.', type: 'server_error' }, {
        ...headers,
        ...(fault.shouldRetry === undefined ? {} : { 'x-should-retry': String(fault.shouldRetry) }),
      });
      return;
    case 'bad-request':
      sendError(response, 400, { message: fault.message ?? "Invalid value for 'messages': expected an array.", type: 'invalid_request_error', param: 'messages', code: null }, headers);
      return;
    case 'auth':
      sendError(response, 401, { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' }, headers);
      return;
    case 'context-window':
      sendError(response, 400, {
        message: "This model's maximum context length is 128000 tokens. However, your messages resulted in 130512 tokens.",
        type: 'invalid_request_error',
        param: 'messages',
        code: 'context_length_exceeded',
      }, headers);
      return;
    case 'slow-first-byte':
      await exchange.later(fault.delayMs);
      if (exchange.connected()) respond(response, fault.response ?? defaultResponse, call, headers);
      return;
    case 'malformed-tool-json':
      respond(response, { toolCalls: [{ name: fault.name ?? 'lookup', arguments: fault.arguments ?? '{"city": "Par' }], ...(fault.stopReason === undefined ? {} : { finishReason: fault.stopReason }) }, call, headers);
      return;
    case 'reset':
      if (!call.streaming) {
        exchange.reset();
        return;
      }
      startEventStream(response, headers);
      writeEvent(response, chunk(call, { role: 'assistant', content: '' }, null));
      writeEvent(response, chunk(call, { content: 'Partial ' }, null));
      await exchange.later(20);
      exchange.reset();
      return;
    case 'cut':
      if (!call.streaming) {
        sendTruncatedJson(response, completionBody(fault.response ?? defaultResponse, call), headers);
        return;
      }
      startEventStream(response, headers);
      writeEvent(response, chunk(call, { role: 'assistant', content: '' }, null));
      for (const content of pieces(fault.response?.content ?? 'Partial answer')) writeEvent(response, chunk(call, { content }, null));
      response.end();
      return;
    case 'stream-error': {
      const error = { message: 'The server had an error while processing your request.', type: fault.errorType ?? 'server_error', param: null, code: null };
      if (!call.streaming) {
        sendError(response, 500, error, headers);
        return;
      }
      startEventStream(response, headers);
      writeEvent(response, chunk(call, { role: 'assistant', content: '' }, null));
      writeEvent(response, chunk(call, { content: 'Partial ' }, null));
      writeEvent(response, { error });
      response.end();
      return;
    }
  }
}

function respond(response: ServerResponse, reply: OpenAIMockResponse, call: CallFacts, headers: Record<string, string>): void {
  if (!call.streaming) {
    sendJson(response, 200, completionBody(reply, call), headers);
    return;
  }
  startEventStream(response, headers);
  // The role arrives once, on the first chunk.
  let role: Record<string, unknown> = { role: 'assistant' };
  const first = (): Record<string, unknown> => {
    const taken = role;
    role = {};
    return taken;
  };
  if (typeof reply.content === 'string' && reply.content !== '') {
    writeEvent(response, chunk(call, { ...first(), content: '' }, null, reply));
    for (const content of pieces(reply.content)) writeEvent(response, chunk(call, { content }, null, reply));
  }
  if (reply.refusal !== undefined) {
    writeEvent(response, chunk(call, { ...first(), content: null, refusal: '' }, null, reply));
    for (const refusal of pieces(reply.refusal)) writeEvent(response, chunk(call, { refusal }, null, reply));
  }
  // The first chunk of each call carries its id and name with empty arguments; fragments follow.
  toolCallsOf(reply, call.number).forEach((toolCall, index) => {
    writeEvent(response, chunk(call, { ...first(), tool_calls: [{ index, id: toolCall.id, type: 'function', function: { name: toolCall.function.name, arguments: '' } }] }, null, reply));
    for (const fragment of pieces(toolCall.function.arguments)) {
      writeEvent(response, chunk(call, { tool_calls: [{ index, function: { arguments: fragment } }] }, null, reply));
    }
  });
  if (Object.keys(role).length > 0) writeEvent(response, chunk(call, { ...first(), content: '' }, null, reply));
  writeEvent(response, chunk(call, {}, finishReasonOf(reply), reply));
  if (call.includeUsage && reply.usage !== null) writeEvent(response, { ...chunkEnvelope(call, reply), choices: [], usage: usageBody(reply.usage) });
  writeEvent(response, '[DONE]');
  response.end();
}

function chunkEnvelope(call: CallFacts, reply?: OpenAIMockResponse): Record<string, unknown> {
  return { id: reply?.id ?? `chatcmpl-mock-${call.number}`, object: 'chat.completion.chunk', created: 1741570283, model: reply?.model ?? call.model, system_fingerprint: 'fp_mock' };
}

function chunk(call: CallFacts, delta: Record<string, unknown>, finishReason: string | null, reply?: OpenAIMockResponse): unknown {
  return { ...chunkEnvelope(call, reply), choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }], usage: null };
}

function completionBody(reply: OpenAIMockResponse, call: CallFacts): unknown {
  const calls = toolCallsOf(reply, call.number);
  return {
    id: reply.id ?? `chatcmpl-mock-${call.number}`,
    object: 'chat.completion',
    created: 1741570283,
    model: reply.model ?? call.model,
    system_fingerprint: 'fp_mock',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: reply.refusal !== undefined ? null : reply.content ?? null,
          refusal: reply.refusal ?? null,
          annotations: [],
          ...(calls.length > 0 ? { tool_calls: calls } : {}),
        },
        logprobs: null,
        finish_reason: finishReasonOf(reply),
      },
    ],
    ...(reply.usage === null ? {} : { usage: usageBody(reply.usage) }),
  };
}

function toolCallsOf(reply: OpenAIMockResponse, number: number): { id: string; type: 'function'; function: { name: string; arguments: string } }[] {
  return (reply.toolCalls ?? []).map((toolCall, index) => ({
    id: toolCall.id ?? `call_mock_${number}_${index + 1}`,
    type: 'function',
    function: { name: toolCall.name, arguments: typeof toolCall.arguments === 'string' ? toolCall.arguments : JSON.stringify(toolCall.arguments) },
  }));
}

function finishReasonOf(reply: OpenAIMockResponse): string {
  return reply.finishReason ?? ((reply.toolCalls?.length ?? 0) > 0 ? 'tool_calls' : 'stop');
}

function usageBody(usage: OpenAIMockUsage | undefined | null): unknown {
  const prompt = usage?.prompt_tokens ?? 25;
  const completion = usage?.completion_tokens ?? 12;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: usage?.cached_tokens ?? 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

function sendError(response: ServerResponse, status: number, error: { message: string; type: string; param?: string | null; code?: string | null }, headers: Record<string, string>): void {
  sendJson(response, status, { error: { param: null, code: null, ...error } }, headers);
}

function commonHeaders(number: number): Record<string, string> {
  return {
    'x-request-id': `req_mock_${number}`,
    'openai-processing-ms': '12',
    'openai-version': '2020-10-01',
  };
}
