import type { SessionEvent } from './types.ts';
import type { ApiClient } from './client.ts';

/** One message of a server-sent event stream. */
export interface StreamMessage {
  readonly id: string | null;
  readonly event: string;
  readonly data: string;
}

/** A message larger than this is not a journal event: the stream is dropped rather than buffered without end. */
const maxMessageChars = 16 * 1024 * 1024;

/**
 * Splits server-sent event text into messages, keeping the unfinished tail for the next chunk. Follows the
 * EventSource parsing rules: `\n`, `\r\n` or `\r` end a line, a blank line dispatches, `:` starts a comment.
 */
export class EventStreamParser {
  /** Pieces of the line not yet ended: kept apart, so a long line arriving in many chunks is copied once. */
  #partial: string[] = [];
  #partialChars = 0;
  /** The last chunk ended in \r: a \n that opens the next one belongs to it. */
  #afterCarriageReturn = false;
  #id: string | null = null;
  #event = '';
  #data: string[] = [];
  #dataChars = 0;

  push(chunk: string): StreamMessage[] {
    const messages: StreamMessage[] = [];
    let start = this.#afterCarriageReturn && chunk.charCodeAt(0) === 10 ? 1 : 0;
    this.#afterCarriageReturn = false;
    for (let index = start; index < chunk.length; index += 1) {
      const code = chunk.charCodeAt(index);
      if (code !== 10 && code !== 13) continue;
      const piece = chunk.slice(start, index);
      const line = this.#partial.length === 0 ? piece : [...this.#partial, piece].join('');
      this.#partial = [];
      this.#partialChars = 0;
      const message = this.#line(line);
      if (message !== null) messages.push(message);
      if (code === 13) {
        if (index + 1 === chunk.length) this.#afterCarriageReturn = true;
        else if (chunk.charCodeAt(index + 1) === 10) index += 1;
      }
      start = index + 1;
    }
    if (start < chunk.length) {
      this.#partial.push(chunk.slice(start));
      this.#partialChars += chunk.length - start;
    }
    if (this.#partialChars + this.#dataChars > maxMessageChars) throw new Error(`The event stream sent more than ${maxMessageChars} characters without ending a message.`);
    return messages;
  }

  #line(line: string): StreamMessage | null {
    if (line === '') {
      if (this.#data.length === 0) {
        this.#event = '';
        return null;
      }
      const message = { id: this.#id, event: this.#event === '' ? 'message' : this.#event, data: this.#data.join('\n') };
      this.#event = '';
      this.#data = [];
      this.#dataChars = 0;
      return message;
    }
    if (line.startsWith(':')) return null;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      this.#data.push(value);
      this.#dataChars += value.length + 1;
    }
    else if (field === 'event') this.#event = value;
    else if (field === 'id' && !value.includes('\u0000')) this.#id = value;
    return null;
  }
}

/** The caller starts in `connecting`; the stream reports every change after its first request. */
export type StreamState = 'connecting' | 'live' | 'reconnecting' | 'ended' | 'failed';

export interface FollowOptions {
  readonly client: ApiClient;
  readonly sessionId: string;
  /** Resume after this seq (0 for the whole journal). */
  readonly after: number;
  readonly onEvent: (event: SessionEvent) => void;
  readonly onState: (state: StreamState, detail?: string) => void;
  readonly signal: AbortSignal;
}

const firstRetryMs = 500;
const maxRetryMs = 5_000;

/**
 * Follows a session's events: reads the stream with fetch (so the key travels as a header), and after a dropped
 * connection reconnects with `Last-Event-ID` set to the last seq received, so nothing is lost or repeated. Ends at the
 * server's `end` message; stops on abort; gives up on an answer that retrying cannot fix (401, 403, 404).
 */
export async function followSessionEvents(options: FollowOptions): Promise<void> {
  let lastSeq = options.after;
  let delay = firstRetryMs;
  while (!options.signal.aborted) {
    try {
      const response = await fetch(`${options.client.base}/v1/sessions/${encodeURIComponent(options.sessionId)}/events`, {
        headers: options.client.headers({ accept: 'text/event-stream', 'last-event-id': String(lastSeq) }),
        signal: options.signal,
      });
      if (response.status === 401 || response.status === 403 || response.status === 404) {
        options.onState('failed', `The event stream answered ${response.status}.`);
        return;
      }
      if (!response.ok || response.body === null) throw new Error(`The event stream answered ${response.status}.`);
      options.onState('live');
      delay = firstRetryMs;
      const ended = await readStream(response.body, options, (seq) => {
        lastSeq = seq;
      });
      if (ended) {
        options.onState('ended');
        return;
      }
    } catch (error) {
      if (options.signal.aborted) return;
      options.onState('reconnecting', error instanceof Error ? error.message : String(error));
    }
    if (options.signal.aborted) return;
    options.onState('reconnecting');
    await sleep(delay, options.signal);
    delay = Math.min(delay * 2, maxRetryMs);
  }
}

/** Reads one connection; true when the server said the session ended. */
async function readStream(body: ReadableStream<Uint8Array>, options: FollowOptions, advance: (seq: number) => void): Promise<boolean> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new EventStreamParser();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return false;
      for (const message of parser.push(decoder.decode(value, { stream: true }))) {
        if (message.event === 'end') return true;
        if (message.event !== 'session-event') continue;
        const event = JSON.parse(message.data) as SessionEvent;
        advance(event.seq);
        options.onEvent(event);
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
