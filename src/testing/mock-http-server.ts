import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as the mock received it. Header names are lower-case. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The parsed JSON body, or the raw text when it is not JSON. */
  readonly body: unknown;
}

export interface MockServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** What to give the SDK as its base URL. */
  readonly baseURL: string;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

/** Scripted replies: a queue played in order, or a function that answers from the request body and its 0-based index. */
export type MockScript<Reply> = readonly Reply[] | ((body: unknown, index: number) => Reply);

/** Helpers a handler gets: timers it starts are cleared when the server closes, so tests never hang. */
export interface MockExchange {
  readonly request: RecordedRequest;
  readonly response: ServerResponse;
  /** 1-based number of this request, for ids. */
  readonly number: number;
  later(delayMs: number): Promise<void>;
  /** Destroys the connection, as a reset by a proxy or a crashed server would. */
  reset(): void;
  /** Whether the client is still connected (it may have timed out while the mock was waiting). */
  connected(): boolean;
}

export type MockHandler = (exchange: MockExchange) => Promise<void>;

/** A plain node:http server on 127.0.0.1 and a random port, recording every request. */
export async function startMockHttpServer(handler: MockHandler, basePath: string): Promise<MockServer> {
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let closed = false;

  const server = createServer((incoming, response) => {
    // A client that gave up (a timeout, a reset fault) makes later writes fail; that is expected here.
    response.on('error', () => undefined);
    void (async () => {
      const request = await record(incoming);
      requests.push(request);
      const exchange: MockExchange = {
        request,
        response,
        number: requests.length,
        later: (delayMs) =>
          new Promise((resolve) => {
            const timer = setTimeout(() => {
              timers.delete(timer);
              resolve();
            }, delayMs);
            timers.add(timer);
          }),
        reset: () => {
          response.socket?.destroy();
        },
        connected: () => response.socket !== null && !response.socket.destroyed,
      };
      try {
        await handler(exchange);
      } catch (error) {
        if (!response.headersSent && !closed) {
          response.writeHead(500, { 'content-type': 'text/plain' });
          response.end(`mock handler failed: ${error instanceof Error ? error.message : String(error)}`);
        } else {
          response.destroy();
        }
      }
    })();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;

  return {
    url,
    baseURL: `${url}${basePath}`,
    requests,
    close: async () => {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Resolves the reply for request `index` (0-based) from a queue or a function. */
export function nextReply<Reply>(script: MockScript<Reply>, body: unknown, index: number): Reply | undefined {
  if (typeof script === 'function') return script(body, index);
  return script[index];
}

async function record(incoming: IncomingMessage): Promise<RecordedRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of incoming) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // Kept as text: a test may want to see exactly what was sent.
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(incoming.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return { method: incoming.method ?? 'GET', path: incoming.url ?? '/', headers, body };
}

export function sendJson(response: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  response.end(text);
}

/** A 200 whose JSON body stops halfway, ending cleanly: what a truncating proxy delivers. */
export function sendTruncatedJson(response: ServerResponse, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(200, { 'content-type': 'application/json', ...headers });
  response.end(text.slice(0, Math.floor(text.length / 2)));
}

/** Splits a string into `count` roughly equal pieces, so streams carry several deltas per block. */
export function pieces(text: string, count = 3): string[] {
  if (text.length <= 1) return [text];
  const size = Math.max(1, Math.ceil(text.length / count));
  const result: string[] = [];
  for (let start = 0; start < text.length; start += size) result.push(text.slice(start, start + size));
  return result;
}
