import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { defaultMaxResponseBytes } from './direct-settings.ts';

/**
 * A `fetch` for the official SDKs on `node:http` / `node:https` with keep-alive agents. The SDKs keep building the
 * requests, retrying, mapping errors and parsing streams; only the transport under them changes, because undici's
 * fetch and its web streams cost more CPU per model call than the rest of a turn's client work.
 *
 * What it handles itself: http(s) URLs given as a string or URL, bodies that are absent, a string or bytes, and
 * responses that are not redirects. Anything else (a `Request` object, stream or form bodies, credentials in the
 * URL, redirect modes other than `follow`) goes to `fallback`, by default the global fetch. Redirects are stricter
 * than fetch's: only a 307 or 308 within the origin is followed (by `fallback`, which then refuses another); any
 * other fails as a connection error, since following it would send the conversation and the credentials elsewhere. So does every request once a dispatcher other than a plain
 * `Agent` (a proxy, a mock agent) has been installed with undici's `setGlobalDispatcher`.
 *
 * JSON and error responses are read whole before the `Response` is returned (they are small, and the SDK reads
 * them whole at once anyway; an error body up to 64 KiB, a JSON body up to 64 MiB); any other body, such as
 * server-sent events, streams as it arrives.
 */
export interface NodeHttpFetchOptions {
  /**
   * How long an idle kept-alive connection waits for its next request before it is closed. Defaults to 4 seconds,
   * under the 5 seconds after which Node's own servers close idle connections, so that a request is not sent on a
   * connection the server is closing. A `Keep-Alive: timeout=N` header from the server shortens it.
   */
  readonly idleTimeoutMs?: number;
  /** What serves the requests described above. Defaults to the global fetch. */
  readonly fallback?: typeof globalThis.fetch;
}

export interface NodeHttpFetch {
  readonly fetch: typeof globalThis.fetch;
  /** The keep-alive agent this transport sends a URL's requests through; Keel's direct clients share them. */
  agentFor(url: URL): http.Agent;
  /** Closes the idle connections; requests still running finish. */
  close(): void;
}

interface PlannedRequest {
  readonly url: URL;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: Uint8Array | undefined;
  readonly signal: AbortSignal | undefined;
}

const defaultIdleTimeoutMs = 4_000;
/** Statuses whose response has no body by definition; a Response with one would be refused. */
const nullBodyStatuses = new Set([101, 103, 204, 205, 304]);
const redirectStatuses = new Set([301, 302, 303, 307, 308]);
/** An error body is a message for a person: what is past this is not read (a hostile server may never end one). */
const maxErrorBodyBytes = 64 * 1024;

export function createNodeHttpFetch(options: NodeHttpFetchOptions = {}): NodeHttpFetch {
  const idleTimeoutMs = options.idleTimeoutMs ?? defaultIdleTimeoutMs;
  // LIFO reuses the most recently used connection, which is the one least likely to have been closed meanwhile.
  // Node keeps at most 256 idle connections per host by default and closes the rest as their responses end: with
  // more sessions than that waiting on one provider at once, every wave of requests then opens hundreds of new
  // connections. Idle connections are closed after `idleTimeoutMs` anyway, so the pool is not capped by count.
  const agentOptions = { keepAlive: true, scheduling: 'lifo' as const, timeout: idleTimeoutMs, maxFreeSockets: Number.POSITIVE_INFINITY };
  const httpAgent = new http.Agent(agentOptions);
  const httpsAgent = new https.Agent(agentOptions);
  const fallback = options.fallback ?? ((input, init) => globalThis.fetch(input, init));

  const fetch: typeof globalThis.fetch = (input, init) => {
    const planned = hasCustomDispatcher() ? null : planRequest(input, init);
    if (planned === null) return fallback(input, init);
    // A redirect the rules below allow is followed by fetch, which refuses any further one.
    return send(planned, planned.url.protocol === 'https:' ? httpsAgent : httpAgent, (target) => fallback(target.href, { ...init, redirect: 'error' }));
  };
  return {
    fetch,
    agentFor: (url) => (url.protocol === 'https:' ? httpsAgent : httpAgent),
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

let shared: NodeHttpFetch | undefined;

/** One transport for every model of the process, so that connections are reused across sessions and clients. */
export function sharedNodeHttpFetch(): typeof globalThis.fetch {
  return sharedNodeHttpTransport().fetch;
}

/** The shared transport itself, whose agents the direct clients send through. */
export function sharedNodeHttpTransport(): NodeHttpFetch {
  shared ??= createNodeHttpFetch();
  return shared;
}

const globalDispatcher = Symbol.for('undici.globalDispatcher.1');

/**
 * Whether someone replaced fetch's dispatcher (undici's setGlobalDispatcher: a proxy, a mock agent in tests). Such a
 * choice was made for fetch, so fetch keeps serving the requests. Node's own default is a plain `Agent`.
 */
export function hasCustomDispatcher(): boolean {
  const dispatcher = (globalThis as Record<symbol, unknown>)[globalDispatcher];
  return dispatcher !== undefined && dispatcher !== null && (dispatcher as { constructor?: { name?: string } }).constructor?.name !== 'Agent';
}

/** The request in the shape node:http takes, or null when the request is one this transport leaves to fetch. */
function planRequest(input: Parameters<typeof globalThis.fetch>[0], init: RequestInit | undefined): PlannedRequest | null {
  let url: URL;
  if (typeof input === 'string') {
    try {
      url = new URL(input);
    } catch {
      return null;
    }
  } else if (input instanceof URL) {
    url = input;
  } else {
    return null;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '') return null;
  if (init?.redirect !== undefined && init.redirect !== 'follow') return null;
  const body = bodyBytes(init?.body);
  if (body === null) return null;
  const method = (init?.method ?? 'GET').toUpperCase();
  const headers = headerRecord(init?.headers);
  // The defaults fetch adds when the caller did not set them.
  headers.accept ??= '*/*';
  headers['user-agent'] ??= 'node';
  if (body !== undefined) {
    if (typeof init?.body === 'string') headers['content-type'] ??= 'text/plain;charset=UTF-8';
    headers['content-length'] = String(body.byteLength);
  } else if (method === 'POST' || method === 'PUT') {
    headers['content-length'] = '0';
  }
  return { url, method, headers, body, signal: init?.signal ?? undefined };
}

/** The bytes of a body this transport sends itself: undefined for none, null for a kind it leaves to fetch. */
function bodyBytes(body: RequestInit['body'] | undefined): Uint8Array | undefined | null {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  return null;
}

function headerRecord(headers: RequestInit['headers']): Record<string, string> {
  const record: Record<string, string> = {};
  if (headers === undefined) return record;
  // Repeated names are joined as Headers joins them.
  const add = (name: string, value: string): void => {
    const key = name.toLowerCase();
    record[key] = record[key] === undefined ? value : `${record[key]}, ${value}`;
  };
  if (headers instanceof Headers) headers.forEach((value, name) => add(name, value));
  else if (Array.isArray(headers)) for (const [name, value] of headers as [string, string][]) add(name, value);
  else for (const [name, value] of Object.entries(headers as Record<string, string>)) add(name, value);
  return record;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/** The error fetch gives for a connection that failed before a response, with the socket's error as its cause. */
function connectionFailure(cause: unknown): TypeError {
  return new TypeError('fetch failed', { cause });
}

/** The error fetch gives for a body cut short by the connection. */
function bodyFailure(cause: unknown): TypeError {
  return new TypeError('terminated', { cause: cause ?? Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
}

/**
 * Where a redirect may be followed: only a 307 or 308 (the method and body are kept) within the same origin. A model
 * API never legitimately sends a request to another host, and following one would hand that host the conversation
 * and every custom credential header (fetch drops only `authorization` and `cookie` across origins).
 */
function allowedRedirect(from: URL, status: number, location: string): { readonly target: URL | null; readonly allowed: boolean } {
  let target: URL | null;
  try {
    target = new URL(location, from);
  } catch {
    target = null;
  }
  return { target, allowed: target !== null && (status === 307 || status === 308) && target.origin === from.origin };
}

function redirectRefused(status: number, target: URL | null): TypeError {
  const where = target === null ? 'an unreadable Location' : `${target.protocol}//${target.host}`;
  return connectionFailure(new Error(`the server answered ${status}, redirecting to ${where}; a model request is followed only by a 307 or 308 within the same origin, so set baseURL to the address the provider now uses`));
}

function send(planned: PlannedRequest, agent: http.Agent, redirect: (target: URL) => Promise<Response>): Promise<Response> {
  const { url, method, headers, body, signal } = planned;
  return new Promise<Response>((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(abortReason(signal));
      return;
    }
    // Where a failure goes: the pending promise until the Response is returned, then the body stream if it has one.
    let settled = false;
    let failStream: ((error: unknown) => void) | null = null;
    const fail = (error: unknown): void => {
      if (!settled) {
        settled = true;
        release();
        reject(error);
      } else if (failStream !== null) {
        failStream(error);
      }
    };
    const succeed = (response: Response | Promise<Response>): void => {
      settled = true;
      resolve(response);
    };
    const onAbort = (): void => {
      const reason = abortReason(signal as AbortSignal);
      fail(reason);
      request.destroy();
    };
    const release = (): void => signal?.removeEventListener('abort', onAbort);

    const client = url.protocol === 'https:' ? https : http;
    const request = client.request(url, { method, headers, agent });
    signal?.addEventListener('abort', onAbort, { once: true });
    request.on('error', (error) => {
      if (signal?.aborted === true) return;
      fail(settled ? bodyFailure(error) : connectionFailure(error));
    });
    request.on('response', (incoming) => {
      if (signal?.aborted === true) {
        incoming.resume();
        return;
      }
      const status = incoming.statusCode ?? 0;
      if (redirectStatuses.has(status) && incoming.headers.location !== undefined) {
        incoming.resume();
        const { target, allowed } = allowedRedirect(url, status, incoming.headers.location);
        if (!allowed || target === null) {
          fail(redirectRefused(status, target));
          return;
        }
        release();
        succeed(redirect(target));
        return;
      }
      if (status < 200 || status > 599) {
        incoming.resume();
        fail(connectionFailure(new Error(`unexpected HTTP status ${status}`)));
        return;
      }
      const responseHeaders = new Headers();
      const raw = incoming.rawHeaders;
      for (let index = 0; index + 1 < raw.length; index += 2) responseHeaders.append(raw[index] as string, raw[index + 1] as string);
      const init: ResponseInit = { status, statusText: incoming.statusMessage ?? '', headers: responseHeaders };
      const href = url.href;
      if (nullBodyStatuses.has(status) || method === 'HEAD') {
        incoming.resume();
        incoming.once('end', release);
        succeed(withUrl(new Response(null, init), href));
        return;
      }
      const source = decoded(incoming);
      const contentType = incoming.headers['content-type'] ?? '';
      if (status >= 400 || (/json/i.test(contentType) && !/ndjson|jsonl/i.test(contentType))) {
        const limit = status >= 400 ? maxErrorBodyBytes : defaultMaxResponseBytes;
        readWhole({ incoming, source, limit, stop: () => request.destroy() }, (error, bytes) => {
          if (error !== null) fail(bodyFailure(error));
          else {
            release();
            succeed(withUrl(new Response(bytes, init), href));
          }
        });
        return;
      }
      const stream = streamOf(incoming, source, release, request.destroy.bind(request), (failWith) => {
        failStream = failWith;
      });
      succeed(withUrl(new Response(stream, init), href));
    });
    request.end(body);
  });
}

/** A Response made here has no URL of its own; the SDKs put it in their logs and errors. */
function withUrl(response: Response, url: string): Response {
  Object.defineProperty(response, 'url', { value: url, enumerable: true });
  return response;
}

/** The body with its content coding undone, as fetch does; the request asks for none, but a server may send one. */
export function decoded(incoming: IncomingMessage): Readable {
  const coding = (incoming.headers['content-encoding'] ?? '').trim().toLowerCase();
  const decoder = coding === 'gzip' || coding === 'x-gzip' ? createGunzip() : coding === 'deflate' ? createInflate() : coding === 'br' ? createBrotliDecompress() : null;
  if (decoder === null) return incoming;
  incoming.on('error', (error) => decoder.destroy(error));
  return incoming.pipe(decoder);
}

/**
 * Fires `ended` when the body is complete, or with an error when it is cut: the socket closing before the end
 * surfaces as a 'close' without 'end' on some Node versions and as an 'aborted' error on others.
 */
function watchBody(incoming: IncomingMessage, source: Readable, ended: (error: unknown) => void): void {
  let done = false;
  const finish = (error: unknown): void => {
    if (done) return;
    done = true;
    ended(error);
  };
  source.once('end', () => finish(null));
  source.once('error', (error) => finish(error));
  incoming.once('error', (error) => finish(error));
  incoming.once('close', () => {
    if (!incoming.complete) finish(new Error('other side closed'));
  });
}

interface WholeBody {
  readonly incoming: IncomingMessage;
  readonly source: Readable;
  /** Bytes past this are not read: an error body is kept up to it, any other body fails. */
  readonly limit: number;
  /** Drops the connection, so that a body that never ends stops arriving. */
  readonly stop: () => void;
}

function readWhole(body: WholeBody, done: (error: unknown, bytes: Uint8Array<ArrayBuffer>) => void): void {
  const { incoming, source, limit, stop } = body;
  const parts: Buffer[] = [];
  let received = 0;
  let finished = false;
  const finish = (error: unknown): void => {
    if (finished) return;
    finished = true;
    done(error, parts.length === 1 ? unsharedBytes(parts[0] as Buffer) : Buffer.concat(parts));
  };
  source.on('data', (part: Buffer) => {
    if (finished) return;
    const room = limit - received;
    received += part.byteLength;
    if (received <= limit) {
      parts.push(part);
      return;
    }
    const status = incoming.statusCode ?? 0;
    if (status >= 400) {
      // An error body's beginning says what went wrong; the rest is dropped with the connection.
      if (room > 0) parts.push(part.subarray(0, room));
      finish(null);
    } else {
      finish(new Error(`the response body went past ${limit} bytes and was abandoned`));
    }
    stop();
  });
  watchBody(incoming, source, (error) => finish(error));
}

/**
 * The bytes as a Response body takes them (a view of an ArrayBuffer, which the DOM's BodyInit requires; a Buffer's
 * type allows a SharedArrayBuffer). Socket chunks are never shared, so this is the same memory, not a copy.
 */
function unsharedBytes(chunk: Buffer): Uint8Array<ArrayBuffer> {
  return chunk.buffer instanceof ArrayBuffer ? new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength) : new Uint8Array(chunk);
}

/** A web stream fed from the socket, paused while its reader is behind (backpressure). */
function streamOf(
  incoming: IncomingMessage,
  source: Readable,
  release: () => void,
  destroy: () => void,
  onFailure: (fail: (error: unknown) => void) => void,
): ReadableStream<Uint8Array> {
  let closed = false;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const end = (error: unknown): void => {
        if (closed) return;
        closed = true;
        release();
        if (error === null) controller.close();
        else controller.error(error);
      };
      // An abort errors the stream with the abort's reason; a cut connection as fetch reports it.
      onFailure((error) => end(error));
      source.on('data', (part: Buffer) => {
        if (closed) return;
        controller.enqueue(part);
        if ((controller.desiredSize ?? 0) <= 0) source.pause();
      });
      watchBody(incoming, source, (error) => end(error === null ? null : bodyFailure(error)));
    },
    pull() {
      source.resume();
    },
    cancel() {
      closed = true;
      release();
      destroy();
    },
    // A few chunks of slack, so that the socket is not paused and resumed around every chunk of a stream.
  }, new CountQueuingStrategy({ highWaterMark: 16 }));
}
