import { getEventListeners } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createAnthropicModel } from '../../src/model/index.ts';
import type { ModelRequest, ModelStreamPart } from '../../src/spec/model.ts';

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

async function serve(handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<string> {
  const server = createServer((request, response) => {
    response.on('error', () => undefined);
    request.resume();
    request.once('end', () => handler(request, response));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const request: ModelRequest = { system: 's', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], tools: [], maxOutputTokens: 100 };
const message = JSON.stringify({ id: 'msg_1', type: 'message', role: 'assistant', model: 'm', content: [{ type: 'text', text: 'ok' }], stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 1 } });
const event = (name: string, data: unknown): string => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
const stream =
  event('message_start', { type: 'message_start', message: { id: 'msg_1', model: 'm', usage: { input_tokens: 1, output_tokens: 0 } } }) +
  event('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }) +
  event('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'ok' } }) +
  event('content_block_stop', { type: 'content_block_stop', index: 0 }) +
  event('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 2 } }) +
  event('message_stop', { type: 'message_stop' });

async function drain(parts: AsyncIterable<ModelStreamPart>): Promise<number> {
  let count = 0;
  for await (const _part of parts) count += 1;
  return count;
}

describe('the direct client and the signal of its calls, after the call guard became one object (probe H5)', () => {
  it('leaves no abort listener on a signal shared by 500 calls, plain and streamed, answered or failed', async () => {
    let index = 0;
    const url = await serve((_request, response) => {
      index += 1;
      if (index % 5 === 0) {
        response.writeHead(500, { 'content-type': 'application/json' }).end('{"type":"error","error":{"type":"api_error","message":"boom"}}');
      } else if (index % 2 === 0) {
        response.writeHead(200, { 'content-type': 'text/event-stream' }).end(stream);
      } else {
        response.writeHead(200, { 'content-type': 'application/json' }).end(message);
      }
    });
    const model = createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'k', baseURL: url });
    const session = new AbortController();
    for (let call = 0; call < 500; call += 1) {
      await (call % 2 === 0 ? model.generate(request, session.signal) : drain(model.stream(request, session.signal))).catch(() => undefined);
    }
    expect(getEventListeners(session.signal, 'abort')).toHaveLength(0);
  });

  it('ends a call aborted while the response is arriving with the cancellation, and removes its listener', async () => {
    const url = await serve((_request, response) => {
      // Headers, then nothing: the body never ends.
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"id":');
    });
    const model = createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'k', baseURL: url, timeoutMs: 30_000 });
    const caller = new AbortController();
    const call = model.generate(request, caller.signal);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const reason = new Error('user pressed stop');
    caller.abort(reason);
    const error = await call.then(() => null, (thrown: unknown) => thrown);
    expect(error).toMatchObject({ code: 'cancelled' });
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });

  it('still times out an attempt whose response never comes', async () => {
    const url = await serve(() => undefined);
    const model = createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'k', baseURL: url, timeoutMs: 200 });
    const signal = new AbortController().signal;
    const error = (await model.generate(request, signal).then(() => null, (thrown: unknown) => thrown)) as { code?: string } | null;
    expect(error?.code).toBe('model-timeout');
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });
});
