import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { KeelError } from '../../src/errors/index.ts';
import { createAnthropicModel, createNodeHttpFetch, createOpenAIModel } from '../../src/model/index.ts';
import type { NodeHttpFetch } from '../../src/model/index.ts';
import { startMockAnthropicServer, startMockOpenAIServer } from '../../src/testing/index.ts';
import type { AnthropicMockReply, MockServer, OpenAIMockReply } from '../../src/testing/index.ts';
import { collectParts, finishOf, rejectionOf, simpleRequest } from './helpers.ts';

let server: MockServer | undefined;
let plain: Server | undefined;
const transports: NodeHttpFetch[] = [];
afterEach(async () => {
  await server?.close();
  server = undefined;
  if (plain !== undefined) {
    plain.closeAllConnections();
    await new Promise<void>((resolve) => plain?.close(() => resolve()));
    plain = undefined;
  }
  for (const transport of transports.splice(0)) transport.close();
});

function transport(): NodeHttpFetch {
  const created = createNodeHttpFetch();
  transports.push(created);
  return created;
}

async function openAI(script: readonly OpenAIMockReply[], timeoutMs?: number) {
  server = await startMockOpenAIServer({ script });
  return createOpenAIModel({ modelId: 'gpt-4o', apiKey: 'sk-test', baseURL: server.baseURL, fetch: transport().fetch, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
}

async function anthropic(script: readonly AnthropicMockReply[]) {
  server = await startMockAnthropicServer({ script });
  return createAnthropicModel({ modelId: 'claude-sonnet-4-5', apiKey: 'sk-ant-test', baseURL: server.url, fetch: transport().fetch });
}

/** A plain server for what the mock providers do not do: it records each request's client port and answers with `handler`. */
async function startPlain(handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<{ url: string; ports: number[] }> {
  const ports: number[] = [];
  plain = createServer((request, response) => {
    ports.push(request.socket.remotePort ?? 0);
    request.resume();
    request.on('end', () => handler(request, response));
  });
  await new Promise<void>((resolve) => plain?.listen(0, '127.0.0.1', () => resolve()));
  return { url: `http://127.0.0.1:${(plain.address() as AddressInfo).port}`, ports };
}

const signal = (): AbortSignal => new AbortController().signal;

describe('the node:http transport under the official SDKs', () => {
  it('serves a non-streaming call and a streaming call (OpenAI)', async () => {
    const model = await openAI([{ content: 'plain answer' }, { content: 'streamed answer' }]);
    const response = await model.generate(simpleRequest, signal());
    expect(response.content).toEqual([{ type: 'text', text: 'plain answer' }]);
    const parts = await collectParts(model, simpleRequest);
    expect(finishOf(parts).response.content).toEqual([{ type: 'text', text: 'streamed answer' }]);
    const [first] = server!.requests;
    expect(first?.headers.authorization).toBe('Bearer sk-test');
    expect(first?.headers['content-length']).toBe(String(Buffer.byteLength(JSON.stringify(first?.body))));
  });

  it('serves a non-streaming call and a streaming call (Anthropic)', async () => {
    const model = await anthropic([{ content: [{ type: 'text', text: 'plain' }] }, { content: [{ type: 'text', text: 'streamed' }] }]);
    expect((await model.generate(simpleRequest, signal())).content).toEqual([{ type: 'text', text: 'plain' }]);
    expect(finishOf(await collectParts(model, simpleRequest)).response.content).toEqual([{ type: 'text', text: 'streamed' }]);
    const recorded = server!.requests[0];
    expect(recorded?.headers.authorization ?? recorded?.headers['x-api-key']).toContain('sk-ant-test');
  });

  it('maps a 429 with its retry-after header, and a 529, as the SDK with fetch does', async () => {
    const model = await anthropic([{ fault: 'rate-limit', retryAfterSeconds: 7 }, { fault: 'overloaded' }]);
    const limited = (await rejectionOf(model.generate(simpleRequest, signal()))) as KeelError;
    expect([limited.code, limited.retryable, limited.retryAfterMs, limited.details.status]).toEqual(['model-rate-limited', true, 7_000, 429]);
    expect(limited.details.requestId).toMatch(/^req_/);
    const overloaded = (await rejectionOf(model.generate(simpleRequest, signal()))) as KeelError;
    expect([overloaded.code, overloaded.details.status]).toEqual(['model-overloaded', 529]);
  });

  it('reports a reset before the response as a connection failure and a reset mid-stream as a cut', async () => {
    const model = await openAI([{ fault: 'reset' }, { fault: 'reset' }, { content: 'after the resets' }]);
    const before = (await rejectionOf(model.generate(simpleRequest, signal()))) as KeelError;
    expect([before.code, before.retryable]).toEqual(['model-connection', true]);
    const midStream = (await rejectionOf(collectParts(model, simpleRequest))) as KeelError;
    expect([midStream.code, midStream.retryable]).toEqual(['model-stream-cut', true]);
    expect((await model.generate(simpleRequest, signal())).content).toEqual([{ type: 'text', text: 'after the resets' }]);
  });

  it('times out on a slow first byte, and cancels on abort before and during the response', async () => {
    const slow = await openAI([{ fault: 'slow-first-byte', delayMs: 1_000 }], 100);
    const timedOut = (await rejectionOf(slow.generate(simpleRequest, signal()))) as KeelError;
    expect([timedOut.code, timedOut.retryable]).toEqual(['model-timeout', true]);
    await server?.close();

    // The answer would come only after a minute: `cancelled` at all shows the abort ended the wait.
    const model = await openAI([{ fault: 'slow-first-byte', delayMs: 60_000 }, { content: 'a long stream '.repeat(2_000) }]);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const cancelled = (await rejectionOf(model.generate(simpleRequest, controller.signal))) as KeelError;
    expect(cancelled.code).toBe('cancelled');

    const during = new AbortController();
    const parts: string[] = [];
    const failure = (await rejectionOf(
      (async () => {
        for await (const part of model.stream(simpleRequest, during.signal)) {
          parts.push(part.type);
          during.abort();
        }
      })(),
    )) as KeelError;
    expect(failure.code).toBe('cancelled');
    expect(parts.length).toBe(1);
  });

  it('refuses a connection that cannot be made as fetch does', async () => {
    const { fetch } = transport();
    const error = (await rejectionOf(fetch('http://127.0.0.1:9/nothing'))) as TypeError;
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe('fetch failed');
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });
});

describe('createNodeHttpFetch', () => {
  it('returns a real Response with status, headers, url and body, and reuses the connection', async () => {
    const { url, ports } = await startPlain((_request, response) => {
      response.writeHead(429, { 'content-type': 'application/json', 'retry-after': '3', 'x-request-id': 'req_1' });
      response.end('{"error":{"message":"slow down"}}');
    });
    const { fetch } = transport();
    const first = await fetch(`${url}/v1/things?x=1`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(first).toBeInstanceOf(Response);
    expect([first.status, first.ok, first.url, first.headers.get('retry-after'), first.headers.get('x-request-id')]).toEqual([429, false, `${url}/v1/things?x=1`, '3', 'req_1']);
    expect(await first.json()).toEqual({ error: { message: 'slow down' } });
    const second = await fetch(new URL(`${url}/again`));
    await second.text();
    expect(ports).toHaveLength(2);
    expect(ports[1]).toBe(ports[0]);
  });

  it('keeps every connection of a wave of concurrent requests for the next wave, past Node\'s default of 256 idle', async () => {
    const wave = 300;
    const waiting: ServerResponse[] = [];
    // Answers only once the whole wave has arrived, so the wave really holds `wave` connections at once.
    const { url, ports } = await startPlain((_request, response) => {
      waiting.push(response);
      if (waiting.length < wave) return;
      for (const held of waiting.splice(0)) held.end('{}');
    });
    const { fetch } = transport();
    const sendWave = () => Promise.all(Array.from({ length: wave }, async () => (await fetch(`${url}/v1/wave`, { method: 'POST', body: '{}' })).text()));
    await sendWave();
    const firstPorts = new Set(ports);
    expect(firstPorts.size).toBe(wave);
    await sendWave();
    const secondPorts = new Set(ports.slice(wave));
    expect([...secondPorts].filter((port) => !firstPorts.has(port))).toEqual([]);
  });

  it('streams a body that is not JSON as it arrives', async () => {
    let finish: (() => void) | undefined;
    const { url } = await startPlain((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write('data: one\n\n');
      finish = () => response.end('data: two\n\n');
    });
    const { fetch } = transport();
    const response = await fetch(url);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    expect(decoder.decode((await reader.read()).value)).toBe('data: one\n\n');
    finish?.();
    let rest = '';
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += decoder.decode(chunk.value);
    expect(rest).toBe('data: two\n\n');
  });

  it('decodes a gzip body, and leaves a request it does not handle to the fallback', async () => {
    const { url } = await startPlain((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      response.end(gzipSync('{"zipped":true}'));
    });
    const fallbackCalls: string[] = [];
    const created = createNodeHttpFetch({
      fallback: async (input) => {
        fallbackCalls.push(input instanceof Request ? input.url : String(input));
        return new Response('from the fallback');
      },
    });
    transports.push(created);
    expect(await (await created.fetch(url)).json()).toEqual({ zipped: true });
    expect(await (await created.fetch(new Request(`${url}/request-object`))).text()).toBe('from the fallback');
    expect(await (await created.fetch(`${url}/form`, { method: 'POST', body: new URLSearchParams({ a: '1' }) })).text()).toBe('from the fallback');
    expect(fallbackCalls).toEqual([`${url}/request-object`, `${url}/form`]);
  });

  it('keeps a request open past the idle timeout of its connection', async () => {
    const { url } = await startPlain((_request, response) => {
      setTimeout(() => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{"late":true}');
      }, 300);
    });
    const created = createNodeHttpFetch({ idleTimeoutMs: 50 });
    transports.push(created);
    expect(await (await created.fetch(url)).json()).toEqual({ late: true });
  });

  it('leaves every request to fetch once a proxy or mock dispatcher is installed for it', async () => {
    const symbol = Symbol.for('undici.globalDispatcher.1');
    const global = globalThis as Record<symbol, unknown>;
    const saved = global[symbol];
    const calls: string[] = [];
    const created = createNodeHttpFetch({ fallback: async (input) => (calls.push(String(input)), new Response('via fetch')) });
    transports.push(created);
    global[symbol] = new (class MockAgent {})();
    try {
      expect(await (await created.fetch('http://127.0.0.1:9/anything')).text()).toBe('via fetch');
    } finally {
      global[symbol] = saved;
    }
    expect(calls).toEqual(['http://127.0.0.1:9/anything']);
  });

  it('errors the body stream when the connection breaks mid-body', async () => {
    const { url } = await startPlain((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      response.write('data: partial\n\n', () => setTimeout(() => response.socket?.destroy(), 20));
    });
    const { fetch } = transport();
    const response = await fetch(url);
    const failure = (await rejectionOf(response.text())) as TypeError;
    expect(failure).toBeInstanceOf(TypeError);
    expect(failure.message).toBe('terminated');
  });
});
