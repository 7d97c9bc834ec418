import { KeelError } from '../errors/index.ts';
import { bodyFailure, startExchange } from './direct-transport.ts';
import type { PendingExchange, WireExchange, WireRequest } from './direct-transport.ts';
import { reportResponseHeaders } from './limits/response-headers.ts';
import { createSseDecoder } from './sse-decoder.ts';
import type { ServerSentEvent } from './sse-decoder.ts';

/**
 * The failures a provider's direct client raises (src/model/provider-failures.ts), with the fields of the SDK's own
 * error classes, so that `mapProviderError` reads a direct call's failure exactly as it reads the SDK's: the same
 * codes, retryability, retry-after and messages.
 */
export interface WireErrorFactory {
  /** A connection that failed (before or while reading a response the SDK reads whole). */
  connection(cause: unknown): Error;
  /** The attempt's timeout fired before the response (or, for a plain response, its whole body) arrived. */
  timeout(): Error;
  /** A non-2xx status, with the body as JSON when it parses, else as text. */
  status(status: number, json: unknown, text: string | undefined, headers: Headers): Error;
}

/** How one call is made; the request itself is passed apart, so that nothing holds its body while the answer is awaited. */
export interface DirectCallOptions {
  readonly signal: AbortSignal;
  /** Until the response headers of a stream, or the whole body of a plain response, as the SDKs time an attempt. */
  readonly timeoutMs: number;
  /** How long a stream may send nothing at all before it is abandoned as stalled. */
  readonly streamIdleTimeoutMs: number;
  /** The largest plain response body read; a stream's single events are capped at this too. */
  readonly maxResponseBytes: number;
  readonly errors: WireErrorFactory;
  /** Names the call in errors: "Anthropic (claude-sonnet-4-6)". */
  readonly label: string;
}

/** Read of an error body: enough for any provider's error JSON; the rest of a huge body is not waited for. */
const maxErrorBodyBytes = 64 * 1024;
/** Of that, what an error message quotes when the body is not JSON (an HTML page from a proxy, say). */
const maxQuotedErrorText = 2_000;
/** The longest delay one timer can hold; a longer one would fire at once. */
const maxTimerMs = 2_147_483_647;

/**
 * Arms the attempt's timeout and the caller's signal on a pending exchange; both drop its connection. One object is
 * the abort listener (`handleEvent`) and the timer's argument, so arming a call makes no closures.
 */
class CallGuard {
  timedOut = false;
  readonly pending: PendingExchange;
  readonly options: DirectCallOptions;
  private readonly timer: ReturnType<typeof setTimeout>;

  constructor(pending: PendingExchange, options: DirectCallOptions) {
    this.pending = pending;
    this.options = options;
    this.timer = setTimeout(timeoutFired, Math.min(options.timeoutMs, maxTimerMs), this);
    options.signal.addEventListener('abort', this, { once: true });
  }

  handleEvent(): void {
    this.pending.destroy(new Error('aborted'));
  }

  disarmTimeout(): void {
    clearTimeout(this.timer);
  }

  release(): void {
    clearTimeout(this.timer);
    this.options.signal.removeEventListener('abort', this);
  }

  /** What a failed transport step becomes: the timeout, or the connection error the SDK would have raised. */
  transportError(error: unknown): unknown {
    const options = this.options;
    if (options.signal.aborted || error instanceof KeelError) return error;
    if (this.timedOut) return options.errors.timeout();
    // As the SDKs do: a connection error whose text speaks of a timeout (a connect timeout) is a timeout.
    const cause = error instanceof Error ? error.cause : undefined;
    if (/timed? ?out/i.test(`${String(error)}${cause === undefined ? '' : String(cause)}`)) return options.errors.timeout();
    return options.errors.connection(error);
  }
}

function timeoutFired(guard: CallGuard): void {
  guard.timedOut = true;
  guard.pending.destroy(new Error(`no response within ${guard.options.timeoutMs} ms`));
}

/** A non-2xx response as the SDK's status error. */
async function statusError(exchange: WireExchange, options: DirectCallOptions): Promise<Error> {
  const { bytes } = await exchange.readAll(maxErrorBodyBytes);
  const text = bytes.toString('utf8');
  const json = parseJsonOrUndefined(text);
  const quoted = text.length > maxQuotedErrorText ? `${text.slice(0, maxQuotedErrorText)}…` : text;
  return options.errors.status(exchange.status, json, json === undefined ? quoted : undefined, exchange.fullHeaders());
}

/** POSTs the request and returns the parsed JSON object of a 2xx response. */
export function postJson(request: WireRequest, options: DirectCallOptions): Promise<Record<string, unknown>> {
  // Sent before the asynchronous part starts, which then holds neither the request nor its body during the call.
  let guard: CallGuard;
  try {
    guard = new CallGuard(startExchange(request), options);
  } catch (error) {
    return Promise.reject(error as Error);
  }
  return readJson(guard, options);
}

/** The call's response once its status is a success; its headers are reported to the limiter first, whatever it is. */
async function acceptedExchange(guard: CallGuard, options: DirectCallOptions): Promise<WireExchange> {
  let exchange: WireExchange;
  try {
    exchange = await guard.pending.response;
  } catch (error) {
    throw guard.transportError(error);
  }
  reportResponseHeaders(options.signal, exchange.headers, exchange.status);
  if (exchange.status < 200 || exchange.status > 299) throw await failedStatus(exchange, guard);
  return exchange;
}

async function readJson(guard: CallGuard, options: DirectCallOptions): Promise<Record<string, unknown>> {
  try {
    const exchange = await acceptedExchange(guard, options);
    let body: { readonly bytes: Buffer; readonly truncated: boolean };
    try {
      body = await exchange.readAll(options.maxResponseBytes);
    } catch (error) {
      throw guard.transportError(error);
    }
    if (body.truncated) {
      throw new KeelError('model-malformed-response', `${options.label} sent a response body larger than ${options.maxResponseBytes} bytes; it was not read. Raise maxResponseBytes if such responses are expected.`, {
        retryable: false,
        details: { maxResponseBytes: options.maxResponseBytes },
      });
    }
    // A SyntaxError here maps to model-malformed-response, as the SDK's own parse failure does.
    const parsed: unknown = JSON.parse(body.bytes.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new KeelError('model-malformed-response', `${options.label} answered with JSON that is not a response object (${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed}); the call can be retried.`);
    }
    return parsed as Record<string, unknown>;
  } finally {
    guard.release();
  }
}

/** A non-2xx response's status error, or the transport's error if its body could not be read. */
async function failedStatus(exchange: WireExchange, guard: CallGuard): Promise<unknown> {
  try {
    return await statusError(exchange, guard.options);
  } catch (error) {
    return guard.transportError(error);
  }
}

/**
 * POSTs the request and, once a 2xx response's headers arrive, returns its server-sent events as `decode` turns them
 * into values (`undefined` skips one; a throw ends the stream). The body is read with bounded buffers; a stream that
 * sends nothing for `streamIdleTimeoutMs` fails with `model-stream-cut`. Leaving the iteration early drops the
 * connection, as the SDKs do.
 */
/** What a stream's `decode` returns for the event that ends it and carries nothing (OpenAI's `[DONE]`). */
export const streamEnd: unique symbol = Symbol('keel.streamEnd');

const finalBrand: unique symbol = Symbol('keel.finalEvent');

/** An event that ends the stream and is itself a value (Anthropic's `message_stop`). */
export interface FinalEvent<T> {
  readonly [finalBrand]: true;
  readonly value: T;
}

/** Marks the value of the event that ends a stream: it is passed on once the body has ended (or been dropped). */
export function finalEvent<T>(value: T): FinalEvent<T> {
  return { [finalBrand]: true, value };
}

function isFinalEvent<T>(value: T | FinalEvent<T>): value is FinalEvent<T> {
  return typeof value === 'object' && value !== null && finalBrand in value;
}

export type EventDecoder<T> = (event: ServerSentEvent, headers: () => Headers) => T | FinalEvent<T> | typeof streamEnd | undefined;

export function openEventStream<T>(request: WireRequest, options: DirectCallOptions, decode: EventDecoder<T>): Promise<AsyncGenerator<T>> {
  // Sent before the asynchronous part starts, which then holds neither the request nor its body during the call.
  let guard: CallGuard;
  try {
    guard = new CallGuard(startExchange(request), options);
  } catch (error) {
    return Promise.reject(error as Error);
  }
  return openedEvents(guard, options, decode);
}

async function openedEvents<T>(guard: CallGuard, options: DirectCallOptions, decode: EventDecoder<T>): Promise<AsyncGenerator<T>> {
  let exchange: WireExchange;
  try {
    exchange = await acceptedExchange(guard, options);
  } catch (error) {
    guard.release();
    throw error;
  }
  guard.disarmTimeout();
  return events(exchange, guard.pending, () => guard.release(), options, decode);
}

/** How long the end of a body may take to arrive after the provider's end-of-stream event. */
const afterEndGraceMs = 500;

async function* events<T>(
  exchange: WireExchange,
  pending: PendingExchange,
  release: () => void,
  options: DirectCallOptions,
  decode: EventDecoder<T>,
): AsyncGenerator<T> {
  const decoder = createSseDecoder({ maxEventBytes: options.maxResponseBytes, streamName: `The stream of ${options.label}` });
  const headers = (): Headers => exchange.fullHeaders();
  let stalled = false;
  let finished = false;
  const stall = setTimeout(() => {
    stalled = true;
    pending.destroy(new Error(`nothing received for ${options.streamIdleTimeoutMs} ms`));
  }, Math.min(options.streamIdleTimeoutMs, maxTimerMs));
  let received = 0;
  let over = false;
  // Set when a body that went on after the provider's end of stream was dropped: the answer is complete all the same.
  let droppedAfterEnd = false;
  let endGrace: ReturnType<typeof setTimeout> | undefined;
  // The ending event's value, held until the body has ended: a consumer that stops at it would otherwise drop the
  // connection before its last bytes arrive.
  let last: { readonly value: T } | undefined;
  try {
    for await (const chunk of exchange.chunks()) {
      stall.refresh();
      received += chunk.byteLength;
      if (received > options.maxResponseBytes) {
        throw new KeelError('model-malformed-response', `The stream of ${options.label} went past ${options.maxResponseBytes} bytes; it was abandoned. Raise maxResponseBytes if such responses are expected.`, {
          retryable: false,
          details: { maxResponseBytes: options.maxResponseBytes },
        });
      }
      if (over) continue;
      for (const event of decoder.push(chunk)) {
        const value = decode(event, headers);
        if (value === undefined) continue;
        if (value === streamEnd || isFinalEvent(value)) {
          if (value !== streamEnd && isFinalEvent(value)) last = { value: value.value };
          // The provider said the stream is over. The body is read to its end, so that its connection is reused (the
          // end of a chunked body often arrives a moment after the last event); one that goes on past a short grace
          // (a proxy's keep-alive comments) is dropped instead of waited for.
          if (!exchange.complete()) {
            endGrace = setTimeout(() => {
              droppedAfterEnd = true;
              pending.destroy(new Error('the body went on after the end of the stream'));
            }, afterEndGraceMs);
          }
          over = true;
          break;
        }
        yield value;
      }
    }
    if (!exchange.complete()) throw bodyFailure(null);
    finished = true;
    if (last !== undefined) yield last.value;
  } catch (error) {
    if (droppedAfterEnd) {
      if (last !== undefined) yield last.value;
      return;
    }
    if (stalled && !options.signal.aborted) {
      throw new KeelError('model-stream-cut', `The stream of ${options.label} stalled: nothing arrived for ${options.streamIdleTimeoutMs} ms, so it was abandoned; the call can be retried. If the model legitimately pauses this long, raise streamIdleTimeoutMs.`, {
        cause: error,
        details: { streamIdleTimeoutMs: options.streamIdleTimeoutMs },
      });
    }
    throw error;
  } finally {
    clearTimeout(stall);
    clearTimeout(endGrace);
    release();
    if (!finished) pending.destroy(new Error('the stream was left before its end'));
  }
}

function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
