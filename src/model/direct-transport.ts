import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { KeelError } from '../errors/index.ts';
import type { HeaderLookup } from './limits/rate-limit-headers.ts';
import { decoded, hasCustomDispatcher, sharedNodeHttpTransport } from './node-http-fetch.ts';

/** One JSON POST as the direct clients send it. */
export interface WireRequest {
  readonly url: URL;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  /** Text, or its UTF-8 bytes (what Keel's own transport turns it into, and sends again when it follows a redirect). */
  readonly body: string | Uint8Array;
  /** A transport the model was given (`fetch` option); without one, Keel's shared node:http keep-alive agents. */
  readonly fetch: typeof globalThis.fetch | undefined;
}

/** A response whose headers have arrived; its body is read once, whole or as chunks. */
export interface WireExchange {
  readonly status: number;
  readonly headers: HeaderLookup;
  /** The headers as a `Headers` object, built only where an error needs one. */
  fullHeaders(): Headers;
  /** Reads the body whole, stopping (and dropping the connection) once it exceeds `limit` bytes. */
  readAll(limit: number): Promise<{ readonly bytes: Buffer; readonly truncated: boolean }>;
  /** The body as it arrives. */
  chunks(): AsyncIterable<Uint8Array>;
  /** Whether the body arrived whole: a connection cut under it can also end the iteration quietly. */
  complete(): boolean;
}

/** A request under way: the response once its headers arrive, and a way to drop it at any point. */
export interface PendingExchange {
  readonly response: Promise<WireExchange>;
  /** Drops the connection: the pending response or the body being read fails with `reason`. */
  destroy(reason: Error): void;
}

const redirectStatuses = new Set([301, 302, 303, 307, 308]);

const ignoreFailure = (): void => undefined;

/**
 * Sends a request on Keel's node:http keep-alive agents (shared with `sharedNodeHttpFetch`), or through `fetch` when
 * the model was given one, when someone installed another fetch dispatcher (a proxy, a mock agent), for URLs
 * node:http does not take as they are (credentials in them), and to follow a redirect. Failures are those fetch
 * gives: `TypeError('fetch failed')` before a response, `TypeError('terminated')` when the body is cut.
 */
export function startExchange(request: WireRequest): PendingExchange {
  const url = request.url;
  const viaFetch = request.fetch !== undefined || hasCustomDispatcher() || url.username !== '' || url.password !== '' || (url.protocol !== 'http:' && url.protocol !== 'https:');
  if (viaFetch) return fetchExchange(request, request.fetch ?? ((input, init) => globalThis.fetch(input, init)));
  return nativeExchange(request);
}

function nativeExchange(wire: WireRequest): PendingExchange {
  // The body as bytes, outside V8's heap: the text dies young, and what is kept until the answer (for a redirect) is
  // not promoted to the old generation with every call.
  const request: WireRequest = { url: wire.url, headers: wire.headers, body: typeof wire.body === 'string' ? Buffer.from(wire.body, 'utf8') : wire.body, fetch: undefined };
  let redirected: PendingExchange | null = null;
  let failPending: (reason: Error) => void = ignoreFailure;
  const client = request.url.protocol === 'https:' ? https : http;
  const headers = { ...request.headers, 'content-length': String(request.body.length) };
  const outgoing = client.request(request.url, { method: 'POST', headers, agent: sharedNodeHttpTransport().agentFor(request.url) });
  const response = new Promise<WireExchange>((resolve, reject) => {
    let responded = false;
    failPending = (reason) => {
      if (!responded) reject(connectionFailure(reason));
    };
    // Kept for the request's whole life: an 'error' with no listener would crash the process.
    outgoing.on('error', (error) => failPending(error));
    outgoing.once('response', (incoming) => {
      responded = true;
      incoming.on('error', () => undefined);
      const status = incoming.statusCode ?? 0;
      if (redirectStatuses.has(status) && incoming.headers.location !== undefined) {
        // Only a 307 or 308 within the origin is followed (method, body and headers kept, once): another origin would
        // receive the credentials, and the other redirects turn the POST into a GET the API cannot answer.
        incoming.resume();
        const location = incoming.headers.location;
        const target = URL.canParse(location, request.url.href) ? new URL(location, request.url.href) : null;
        if ((status === 307 || status === 308) && target !== null && target.origin === request.url.origin) {
          redirected = fetchExchange({ ...request, url: target }, (input, init) => globalThis.fetch(input, init), 'error');
          resolve(redirected.response);
          return;
        }
        reject(
          new KeelError('model-connection', `The model endpoint ${request.url.origin} redirected (HTTP ${status}) to ${target === null ? 'an invalid location' : target.origin}, which Keel does not follow: only a 307 or 308 within the same origin is. Set the base URL to the final address.`, {
            retryable: false,
            details: { status },
          }),
        );
        return;
      }
      if (status < 200 || status > 599) {
        incoming.resume();
        outgoing.destroy();
        reject(connectionFailure(new Error(`unexpected HTTP status ${status}`)));
        return;
      }
      resolve(nativeResponse(incoming, status));
    });
  });
  outgoing.end(request.body);
  return {
    response,
    destroy(reason) {
      if (redirected !== null) {
        redirected.destroy(reason);
        return;
      }
      // Destroyed without an error: an error would also reach the socket's own listeners, which have nothing to tell.
      failPending(reason);
      outgoing.destroy();
    },
  };
}

function nativeResponse(incoming: IncomingMessage, status: number): WireExchange {
  return new NativeResponse(incoming, status);
}

/** A response on node:http; one object (its own header lookup) rather than a closure per method, made for every call. */
class NativeResponse implements WireExchange, HeaderLookup {
  readonly headers: HeaderLookup = this;
  readonly status: number;
  private readonly incoming: IncomingMessage;
  private readonly source: Readable;

  constructor(incoming: IncomingMessage, status: number) {
    this.incoming = incoming;
    this.status = status;
    this.source = decoded(incoming);
  }

  get(name: string): string | null {
    return headerValue(this.incoming.headers[name.toLowerCase()]);
  }

  fullHeaders(): Headers {
    const headers = new Headers();
    const raw = this.incoming.rawHeaders;
    for (let index = 0; index + 1 < raw.length; index += 2) headers.append(raw[index] as string, raw[index + 1] as string);
    return headers;
  }

  readAll(limit: number): Promise<{ readonly bytes: Buffer; readonly truncated: boolean }> {
    const { incoming, source } = this;
    return new Promise((resolve, reject) => {
      const parts: Buffer[] = [];
      let size = 0;
      let done = false;
      const finish = (error: unknown, truncated: boolean): void => {
        if (done) return;
        done = true;
        if (error !== null) reject(bodyFailure(error));
        else resolve({ bytes: parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts), truncated });
      };
      source.on('data', (part: Buffer) => {
        if (done) return;
        size += part.length;
        if (size > limit) {
          parts.push(part.subarray(0, part.length - (size - limit)));
          incoming.destroy();
          finish(null, true);
          return;
        }
        parts.push(part);
      });
      source.once('end', () => finish(incoming.complete ? null : new Error('other side closed'), false));
      source.once('error', (error) => finish(error, false));
      incoming.once('close', () => finish(incoming.complete ? null : new Error('other side closed'), false));
    });
  }

  chunks(): AsyncIterable<Uint8Array> {
    return chunksOf(this.source, this.incoming);
  }

  complete(): boolean {
    return this.incoming.complete;
  }
}

/** The body's chunks; a body that breaks throws as fetch's does. */
async function* chunksOf(source: Readable, incoming: IncomingMessage): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of source) yield chunk as Buffer;
  } catch (error) {
    throw bodyFailure(error);
  }
  if (!incoming.complete) throw bodyFailure(null);
}

function fetchExchange(request: WireRequest, fetch: typeof globalThis.fetch, redirect: 'follow' | 'error' = 'follow'): PendingExchange {
  const controller = new AbortController();
  const response = fetch(request.url.href, { method: 'POST', headers: request.headers, body: request.body, signal: controller.signal, redirect }).then((answer): WireExchange => {
    let ended = false;
    const body = answer.body;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      if (body === null) {
        ended = true;
        return;
      }
      const reader = body.getReader();
      try {
        for (;;) {
          const next = await reader.read();
          if (next.done) break;
          yield next.value;
        }
        ended = true;
      } finally {
        if (!ended) void reader.cancel().catch(() => undefined);
        reader.releaseLock();
      }
    }
    return {
      status: answer.status,
      headers: answer.headers,
      fullHeaders: () => answer.headers,
      readAll: async (limit) => {
        const parts: Buffer[] = [];
        let size = 0;
        for await (const chunk of chunks()) {
          size += chunk.byteLength;
          if (size > limit) {
            parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength - (size - limit)));
            controller.abort();
            return { bytes: Buffer.concat(parts), truncated: true };
          }
          parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        }
        return { bytes: Buffer.concat(parts), truncated: false };
      },
      chunks,
      complete: () => ended,
    };
  });
  return { response, destroy: (reason) => controller.abort(reason) };
}

function headerValue(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The error fetch gives for a connection that failed before a response, with the socket's error as its cause. */
export function connectionFailure(cause: unknown): TypeError {
  return new TypeError('fetch failed', { cause });
}

/** The error fetch gives for a body cut short by the connection. */
export function bodyFailure(cause: unknown): TypeError {
  if (cause instanceof TypeError && cause.message === 'terminated') return cause;
  return new TypeError('terminated', { cause: cause ?? Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
}
