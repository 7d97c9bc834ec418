import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { isKeelError } from '../../src/errors/index.ts';
import { createAnthropicModel, createOpenAIModel } from '../../src/model/index.ts';
import { createGateway } from '../../src/model/gateway.ts';
import type { ModelRequest, ModelStreamPart } from '../../src/spec/model.ts';

// Regression tests from the adversarial probe of the model clients: a hostile or broken provider server must end in a
// typed, bounded failure (or in the answer it sent), never in unbounded memory, a leaked credential, a lost answer or a
// storage failure downstream.

const servers: Server[] = [];
const timers = new Set<NodeJS.Timeout>();

afterEach(async () => {
  for (const timer of timers) clearInterval(timer);
  timers.clear();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

async function serve(handler: (request: IncomingMessage, response: ServerResponse) => void, host = '127.0.0.1'): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  const server = createServer((request, response) => {
    requests += 1;
    response.on('error', () => undefined);
    request.resume();
    request.once('end', () => handler(request, response));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  return { url: `http://${host}:${(server.address() as AddressInfo).port}`, requests: () => requests };
}

const request: ModelRequest = { system: 's', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], tools: [], maxOutputTokens: 100 };
const signal = (): AbortSignal => new AbortController().signal;
const event = (name: string, data: unknown): string => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
const messageStart = event('message_start', { type: 'message_start', message: { id: 'msg_1', model: 'm', usage: { input_tokens: 1, output_tokens: 0 } } });
const messageEnd =
  event('content_block_stop', { type: 'content_block_stop', index: 0 }) +
  event('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 2 } }) +
  event('message_stop', { type: 'message_stop' });

async function collect(parts: AsyncIterable<ModelStreamPart>): Promise<ModelStreamPart[]> {
  const collected: ModelStreamPart[] = [];
  for await (const part of parts) collected.push(part);
  return collected;
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure, got an answer');
}

describe('a streamed response larger than maxResponseBytes', () => {
  it('is refused, not retried, even when every single event is under the cap', async () => {
    const piece = 'x'.repeat(8 * 1024);
    const delta = event('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'input_json_delta', partial_json: piece } });
    const server = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      const toolStart = event('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} } });
      // 40 events of 8 KiB: 320 KiB in all against a cap of 64 KiB.
      response.end(messageStart + toolStart + delta.repeat(40) + messageEnd);
    });
    const model = createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'k', baseURL: server.url, maxResponseBytes: 64 * 1024 });
    const error = await failureOf(collect(model.stream(request, signal())));
    expect(isKeelError(error)).toBe(true);
    expect((error as { retryable: boolean }).retryable).toBe(false);
  });
});

describe('a redirect to another host', () => {
  it('is not followed: the other host receives nothing, so no header (custom credentials included) reaches it', async () => {
    for (const client of ['direct', 'sdk'] as const) {
      const other = await serve((_request, response) => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ id: 'msg', model: 'm', content: [{ type: 'text', text: 'from elsewhere' }], stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 1 } }));
      }, '127.0.0.2');
      const origin = await serve((incoming, response) => {
        response.writeHead(307, { location: `${other.url}${incoming.url ?? '/'}` });
        response.end();
      });
      const model = createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'k', baseURL: origin.url, client, headers: { 'x-api-key': 'secret-custom-key' } });
      const error = await failureOf(model.generate(request, signal()));
      expect(isKeelError(error)).toBe(true);
      expect(other.requests()).toBe(0);
    }
  });
});

describe('an OpenAI stream that sent [DONE] but keeps the connection open', () => {
  it('finishes with the answer it sent instead of waiting for the body to end', async () => {
    for (const client of ['direct', 'sdk'] as const) {
      const server = await serve((_request, response) => {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        response.write(`data: ${JSON.stringify({ id: 'c', model: 'm', choices: [{ index: 0, delta: { content: 'hello' }, finish_reason: 'stop' }] })}\n\n`);
        response.write(`data: ${JSON.stringify({ id: 'c', choices: [], usage: { prompt_tokens: 1, completion_tokens: 1 } })}\n\ndata: [DONE]\n\n`);
        // A proxy that never ends the chunked body, sending keep-alive comments.
        const timer = setInterval(() => response.write(': keep-alive\n\n'), 100);
        timers.add(timer);
      });
      const model = createOpenAIModel({ modelId: 'gpt-4o', apiKey: 'k', baseURL: `${server.url}/v1`, client, timeoutMs: 5_000, streamIdleTimeoutMs: 2_000 });
      const controller = new AbortController();
      // Bounds the test only: without the fix the stream never ends (comments keep it alive).
      const guard = setTimeout(() => controller.abort(), 15_000);
      try {
        const parts = await collect(model.stream(request, controller.signal));
        const finish = parts.find((part) => part.type === 'finish');
        expect(finish?.type === 'finish' ? finish.response.content : undefined).toEqual([{ type: 'text', text: 'hello' }]);
      } finally {
        clearTimeout(guard);
      }
    }
  });
});

describe('a hosted-tool block nested deeper than any serialiser survives', () => {
  it('leaves the gateway as a response the journal can serialise', async () => {
    const depth = 20_000;
    const server = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      const hosted = `event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":${'['.repeat(depth)}${']'.repeat(depth)}}}\n\n`;
      response.end(messageStart + hosted + messageEnd);
    });
    const gateway = createGateway(createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'k', baseURL: server.url }), { maxRetries: 0 });
    let response: unknown;
    try {
      response = (await gateway.call(request, { signal: signal(), streaming: true })).response;
    } catch (error) {
      // Refusing the response with a typed model error is as good as bounding it.
      expect(isKeelError(error)).toBe(true);
      expect(String((error as { code?: string }).code)).toMatch(/^model-/);
      return;
    }
    expect(() => JSON.stringify(response)).not.toThrow();
  });
});

describe('credentials in a base URL', () => {
  it('never appear in the error a failed call raises', async () => {
    for (const client of ['direct', 'sdk'] as const) {
      const model = createOpenAIModel({ modelId: 'gpt-4o', apiKey: 'k', baseURL: 'http://proxyuser:secret-password@127.0.0.1:9/v1', client });
      const error = await failureOf(createGateway(model, { maxRetries: 0 }).call(request, { signal: signal(), streaming: false }));
      expect(isKeelError(error)).toBe(true);
      const text = JSON.stringify({ message: (error as Error).message, details: (error as { details?: unknown }).details });
      expect(text).not.toContain('secret-password');
    }
  });
});

describe('a response naming two tool calls by one id', () => {
  it('does not leave the gateway with the duplicate: it is refused as a model error', async () => {
    const call = (index: number, to: string): string =>
      event('content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: 'toolu_same', name: 'send', input: {} } }) +
      event('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: JSON.stringify({ to }) } }) +
      event('content_block_stop', { type: 'content_block_stop', index });
    const server = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.end(
        messageStart + call(0, 'alice') + call(1, 'bob') + event('message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 2 } }) + event('message_stop', { type: 'message_stop' }),
      );
    });
    const gateway = createGateway(createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'k', baseURL: server.url }), { maxRetries: 0 });
    const error = await failureOf(gateway.call(request, { signal: signal(), streaming: true }));
    expect(isKeelError(error)).toBe(true);
    expect(String((error as { code?: string }).code)).toMatch(/^model-/);
  });
});

describe('an error body that never ends, on the SDK path', () => {
  it('is not buffered whole: the client stops reading long before the server stops writing', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 'a');
    let written = 0;
    const server = await serve((_request, response) => {
      response.writeHead(500, { 'content-type': 'application/json' });
      // Up to 100 MiB, then the body stays open.
      const pump = (): void => {
        while (written < 100) {
          written += 1;
          if (!response.write(chunk)) {
            response.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
    const model = createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'k', baseURL: server.url, client: 'sdk', timeoutMs: 10_000 });
    const error = await failureOf(model.generate(request, signal()));
    expect(isKeelError(error)).toBe(true);
    expect(written).toBeLessThan(100);
  });
});

describe('a Retry-After header that is not a number of seconds or an HTTP date', () => {
  it('neither makes the gateway retry at once nor reads a list of values as a date', async () => {
    const cases: [string, number][] = [
      ['-5', 1],
      ['3, 4', 3_000],
    ];
    for (const [value, least] of cases) {
      const server = await serve((_request, response) => {
        response.writeHead(429, { 'content-type': 'application/json', 'retry-after': value });
        response.end(JSON.stringify({ type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } }));
      });
      const sleeps: number[] = [];
      let now = 0;
      const clock = {
        now: () => 1_800_000_000_000 + now,
        monotonic: () => now,
        sleep: async (milliseconds: number) => {
          sleeps.push(milliseconds);
          now += milliseconds;
        },
      };
      const gateway = createGateway(createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'k', baseURL: server.url }), { maxRetries: 1, clock, random: () => 0 });
      await failureOf(gateway.call(request, { signal: signal(), streaming: false }));
      expect(sleeps).toHaveLength(1);
      expect(sleeps[0]).toBeGreaterThanOrEqual(least);
    }
  });
});
