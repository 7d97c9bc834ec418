import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { KeelError } from '../../src/errors/index.ts';
import { createAnthropicModel, createOpenAIModel } from '../../src/model/index.ts';
import type { Model } from '../../src/spec/model.ts';
import { startMockAnthropicServer, startMockOpenAIServer } from '../../src/testing/index.ts';
import type { MockServer } from '../../src/testing/index.ts';
import { collectParts, finishOf, rejectionOf, simpleRequest } from './helpers.ts';

// What a hostile or broken server can send the direct client: each ends in a typed KeelError with bounded memory and
// time, or in a normal answer, never in a hang or a crash.

let plain: Server | undefined;
let mock: MockServer | undefined;
/** Whether the server saw the client close the connection of the latest request. */
let clientClosed: Promise<void> | undefined;
const timers = new Set<NodeJS.Timeout>();

afterEach(async () => {
  for (const timer of timers) clearInterval(timer);
  timers.clear();
  await mock?.close();
  mock = undefined;
  if (plain !== undefined) {
    plain.closeAllConnections();
    await new Promise<void>((resolve) => plain?.close(() => resolve()));
    plain = undefined;
  }
});

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

async function serve(handler: Handler): Promise<string> {
  plain = createServer((request, response) => {
    response.on('error', () => undefined);
    clientClosed = new Promise((resolve) => response.once('close', () => resolve()));
    request.resume();
    request.once('end', () => handler(request, response));
  });
  await new Promise<void>((resolve) => plain?.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
}

function every(milliseconds: number, action: () => void): void {
  timers.add(setInterval(action, milliseconds));
}

interface Limits {
  readonly timeoutMs?: number;
  readonly streamIdleTimeoutMs?: number;
  readonly maxResponseBytes?: number;
}

const anthropic = (url: string, limits: Limits = {}): Model => createAnthropicModel({ modelId: 'claude-haiku-4-5', apiKey: 'k', baseURL: url, ...limits });
const openAI = (url: string, limits: Limits = {}): Model => createOpenAIModel({ modelId: 'gpt-4o', apiKey: 'k', baseURL: `${url}/v1`, ...limits });
const signal = (): AbortSignal => new AbortController().signal;

const sse = (response: ServerResponse): void => {
  response.writeHead(200, { 'content-type': 'text/event-stream' });
};
const anthropicStart = 'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","model":"m","usage":{"input_tokens":1,"output_tokens":0}}}\n\n';
const anthropicText = (text: string): string =>
  `event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\nevent: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":${JSON.stringify(text)}}}\n\n`;
const anthropicEnd =
  'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\nevent: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n';

describe('the direct client against hostile servers', () => {
  it('reads a non-JSON error page as the status it came with, quoting a bounded part of it', async () => {
    const url = await serve((_request, response) => {
      response.writeHead(502, { 'content-type': 'text/html' });
      response.end(`<html><body>Bad gateway ${'x'.repeat(500_000)}</body></html>`);
    });
    for (const model of [anthropic(url), openAI(url)]) {
      const error = (await rejectionOf(model.generate(simpleRequest, signal()))) as KeelError;
      expect(error).toBeInstanceOf(KeelError);
      expect([error.code, error.retryable, error.details.status]).toEqual(['model-server-error', true, 502]);
      expect(error.message).toMatch(/Bad gateway/);
      expect(error.message.length).toBeLessThan(3_000);
    }
  });

  it('times out an error body that never ends, as a plain response is timed whole', async () => {
    const url = await serve((_request, response) => {
      response.writeHead(500, { 'content-type': 'application/json' });
      response.write('{"error": ');
    });
    const error = (await rejectionOf(anthropic(url, { timeoutMs: 200 }).generate(simpleRequest, signal()))) as KeelError;
    expect([error.code, error.retryable]).toEqual(['model-timeout', true]);
  });

  it('refuses a response body over maxResponseBytes without reading the rest, and drops the connection', async () => {
    const url = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write(`{"id":"x","content":[{"type":"text","text":"${'y'.repeat(10_000)}`);
      every(5, () => response.write('y'.repeat(10_000)));
    });
    const error = (await rejectionOf(anthropic(url, { maxResponseBytes: 50_000 }).generate(simpleRequest, signal()))) as KeelError;
    expect([error.code, error.retryable]).toEqual(['model-malformed-response', false]);
    expect(error.message).toMatch(/larger than 50000 bytes.*maxResponseBytes/);
    await clientClosed;
  });

  it('refuses a streamed line that never ends once it passes the cap', async () => {
    const url = await serve((_request, response) => {
      sse(response);
      response.write('data: {"choices":[{"delta":{"content":"');
      every(5, () => response.write('z'.repeat(8_192)));
    });
    const error = (await rejectionOf(collectParts(openAI(url, { maxResponseBytes: 64 * 1024 }), simpleRequest))) as KeelError;
    expect([error.code, error.retryable]).toEqual(['model-malformed-response', false]);
    expect(error.message).toMatch(/server-sent event larger than 65536 bytes|went past 65536 bytes/);
    await clientClosed;
  });

  it('abandons a stream that stalls after it started, as a retryable cut naming the stall', async () => {
    const url = await serve((_request, response) => {
      sse(response);
      response.write(anthropicStart + anthropicText('Half an an'));
    });
    const error = (await rejectionOf(collectParts(anthropic(url, { streamIdleTimeoutMs: 150 }), simpleRequest))) as KeelError;
    expect([error.code, error.retryable]).toEqual(['model-stream-cut', true]);
    expect(error.message).toMatch(/stalled: nothing arrived for 150 ms/);
    await clientClosed;
  });

  it('keeps a stream alive while bytes keep coming (pings), however long it takes', async () => {
    const url = await serve((_request, response) => {
      sse(response);
      response.write(anthropicStart);
      let pings = 0;
      every(40, () => {
        pings += 1;
        if (pings < 8) response.write('event: ping\ndata: {"type":"ping"}\n\n');
        else if (pings === 8) response.end(anthropicText('done') + anthropicEnd);
      });
    });
    const response = finishOf(await collectParts(anthropic(url, { streamIdleTimeoutMs: 150 }), simpleRequest)).response;
    expect(response.content).toEqual([{ type: 'text', text: 'done' }]);
  });

  it('replaces invalid UTF-8 in a stream instead of failing', async () => {
    const url = await serve((_request, response) => {
      sse(response);
      const text = Buffer.from(anthropicText('ok?'));
      const broken = Buffer.from(text.toString('latin1').replace('ok?', 'ok\u00ff'), 'latin1');
      response.end(Buffer.concat([Buffer.from(anthropicStart), broken, Buffer.from(anthropicEnd)]));
    });
    const response = finishOf(await collectParts(anthropic(url), simpleRequest)).response;
    expect(response.content).toEqual([{ type: 'text', text: 'ok\uFFFD' }]);
  });

  it('reports malformed JSON in an event, and a JSON answer that is not an object, as malformed responses', async () => {
    let reply = 0;
    const url = await serve((_request, response) => {
      reply += 1;
      if (reply === 1) {
        sse(response);
        response.end(`${anthropicStart}event: content_block_start\ndata: {"type":"content_block_st\n\n`);
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(reply === 2 ? 'null' : '[1,2]');
    });
    const model = anthropic(url);
    const streamed = (await rejectionOf(collectParts(model, simpleRequest))) as KeelError;
    expect([streamed.code, streamed.retryable]).toEqual(['model-malformed-response', true]);
    for (const shape of [/null/, /an array/]) {
      const error = (await rejectionOf(model.generate(simpleRequest, signal()))) as KeelError;
      expect(error.code).toBe('model-malformed-response');
      expect(error.message).toMatch(shape);
    }
  });

  it('reports a refused connection with the base URL and the variable to check', async () => {
    const url = await serve(() => undefined);
    await new Promise<void>((resolve) => plain?.close(() => resolve()));
    plain = undefined;
    const error = (await rejectionOf(anthropic(url).generate(simpleRequest, signal()))) as KeelError;
    expect([error.code, error.retryable]).toEqual(['model-connection', true]);
    expect(error.message).toMatch(/Could not reach Anthropic at http:\/\/127\.0\.0\.1:\d+: fetch failed \(connect ECONNREFUSED.*ANTHROPIC_BASE_URL/);
  });

  it('cancels the connection when the caller aborts mid-stream', async () => {
    const url = await serve((_request, response) => {
      sse(response);
      response.write(anthropicStart + anthropicText('first'));
    });
    const controller = new AbortController();
    const error = (await rejectionOf(
      (async () => {
        for await (const part of anthropic(url).stream(simpleRequest, controller.signal)) if (part.type === 'text-delta') controller.abort();
      })(),
    )) as KeelError;
    expect(error.code).toBe('cancelled');
    await clientClosed;
  });

  it('reuses the connection of a stream whose body ends a moment after its last event, for both providers', async () => {
    const openAIChunk = (body: unknown): string => `data: ${JSON.stringify(body)}\n\n`;
    const openAIStream =
      openAIChunk({ id: 'c', model: 'm', choices: [{ index: 0, delta: { content: 'hello' }, finish_reason: 'stop' }] }) +
      openAIChunk({ id: 'c', choices: [], usage: { prompt_tokens: 1, completion_tokens: 1 } }) +
      'data: [DONE]\n\n';
    for (const provider of ['anthropic', 'openai'] as const) {
      const url = await serve((_request, response) => {
        sse(response);
        response.write(provider === 'anthropic' ? `${anthropicStart}${anthropicText('hello')}${anthropicEnd}` : openAIStream);
        // The end of the chunked body in a packet of its own, as real servers often send it.
        setTimeout(() => response.end(), 20);
      });
      let connections = 0;
      plain?.on('connection', () => {
        connections += 1;
      });
      const model = provider === 'anthropic' ? anthropic(url) : openAI(url);
      for (let call = 0; call < 4; call += 1) {
        const finish = finishOf(await collectParts(model, simpleRequest));
        expect(finish.response.content).toEqual([{ type: 'text', text: 'hello' }]);
      }
      expect(connections).toBe(1);
      plain?.closeAllConnections();
      await new Promise<void>((resolve) => plain?.close(() => resolve()));
      plain = undefined;
    }
  });
});

describe('the direct client and redirects', () => {
  it('follows a 307 to where the API moved, with the same body, as fetch under the SDK does', async () => {
    const bodies: string[] = [];
    const url = await serve((request, response) => {
      if (request.url === '/old/v1/messages') {
        response.writeHead(307, { location: '/new/v1/messages' });
        response.end();
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ id: 'msg_moved', model: 'm', content: [{ type: 'text', text: 'moved' }], stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 1 } }));
    });
    plain?.prependListener('request', (request: IncomingMessage) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => bodies.push(Buffer.concat(chunks).toString('utf8')));
    });
    const response = await anthropic(`${url}/old`).generate(simpleRequest, signal());
    expect(response.content).toEqual([{ type: 'text', text: 'moved' }]);
    expect(bodies).toHaveLength(2);
    expect(bodies[1]).toBe(bodies[0]);
  });
});

describe('the direct client and the SDK on the wire', () => {
  it('send the same body and the headers that matter, for both providers, streaming and not', async () => {
    for (const provider of ['anthropic', 'openai'] as const) {
      mock = provider === 'anthropic' ? await startMockAnthropicServer({ script: () => ({ content: [{ type: 'text', text: 'ok' }] }) }) : await startMockOpenAIServer({ script: () => ({ content: 'ok' }) });
      const server = mock;
      const make = (client: 'direct' | 'sdk'): Model =>
        provider === 'anthropic'
          ? createAnthropicModel({ client, modelId: 'claude-haiku-4-5', apiKey: 'k', baseURL: server.baseURL, headers: { 'X-Team': 'billing' } })
          : createOpenAIModel({ client, modelId: 'gpt-4o', apiKey: 'k', baseURL: server.baseURL, headers: { 'X-Team': 'billing' } });
      for (const client of ['direct', 'sdk'] as const) {
        await make(client).generate(simpleRequest, signal());
        await collectParts(make(client), simpleRequest);
      }
      const [directPlain, directStream, sdkPlain, sdkStream] = server.requests;
      const essential = (headers: Readonly<Record<string, string>>) => ({
        authorization: headers.authorization,
        version: headers['anthropic-version'],
        contentType: headers['content-type'],
        accept: headers.accept,
        team: headers['x-team'],
      });
      expect(directPlain?.path).toBe(sdkPlain?.path);
      expect(directPlain?.body).toEqual(sdkPlain?.body);
      expect(directStream?.body).toEqual(sdkStream?.body);
      expect(essential(directPlain?.headers ?? {})).toEqual(essential(sdkPlain?.headers ?? {}));
      expect(essential(directStream?.headers ?? {})).toEqual(essential(sdkStream?.headers ?? {}));
      await server.close();
      mock = undefined;
    }
  });
});
