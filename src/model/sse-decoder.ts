import { KeelError } from '../errors/index.ts';

/** One server-sent event: its `event:` name (null when it had none) and its `data:` lines joined by newlines. */
export interface ServerSentEvent {
  readonly event: string | null;
  readonly data: string;
}

export interface SseDecoderOptions {
  /** The most bytes one event (its lines together) may have; a line still open past it is refused as well. */
  readonly maxEventBytes: number;
  /** Names the stream in the error a refused event raises, as in "The Anthropic stream for claude-sonnet-4-6". */
  readonly streamName: string;
}

export interface SseDecoder {
  /** The events completed by this chunk, in order. Throws `model-malformed-response` past `maxEventBytes`. */
  push(chunk: Uint8Array): ServerSentEvent[];
}

const lineFeed = 10;
const carriageReturn = 13;
const colon = 58;
const space = 32;

/**
 * Decodes `text/event-stream` bytes as the official SDKs do: lines end at CR, LF or CRLF (split anywhere across
 * chunks), `:` starts a comment, a blank line dispatches the event, and an event left open at the end of the body is
 * dropped. Every byte is looked at a bounded number of times and what is held is capped, so a line that never ends or
 * an endless event fails with a clear error instead of growing without limit.
 */
export function createSseDecoder(options: SseDecoderOptions): SseDecoder {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  // The previous chunk ended in CR, so an LF starting this one belongs to the same line break.
  let skipLineFeed = false;
  let eventName: string | null = null;
  let dataLines: string[] = [];
  let eventBytes = 0;

  const tooLarge = (): KeelError =>
    new KeelError(
      'model-malformed-response',
      `${options.streamName} sent a server-sent event larger than ${options.maxEventBytes} bytes (or a line that never ended); the stream was abandoned. The call can be retried; if the provider really sends events this large, raise maxEventBytes.`,
      { retryable: false, details: { maxEventBytes: options.maxEventBytes } },
    );

  const line = (buffer: Buffer, start: number, end: number, completed: ServerSentEvent[]): void => {
    if (start === end) {
      if (eventName !== null || dataLines.length > 0) completed.push({ event: eventName, data: dataLines.join('\n') });
      eventName = null;
      dataLines = [];
      eventBytes = 0;
      return;
    }
    if (buffer[start] === colon) return;
    eventBytes += end - start;
    if (eventBytes > options.maxEventBytes) throw tooLarge();
    let separator = buffer.indexOf(colon, start);
    if (separator === -1 || separator >= end) separator = end;
    let valueStart = separator < end ? separator + 1 : end;
    if (valueStart < end && buffer[valueStart] === space) valueStart += 1;
    const nameLength = separator - start;
    if (nameLength === 4 && buffer.toString('latin1', start, separator) === 'data') dataLines.push(buffer.toString('utf8', valueStart, end));
    else if (nameLength === 5 && buffer.toString('latin1', start, separator) === 'event') eventName = buffer.toString('utf8', valueStart, end);
  };

  return {
    push(chunk) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      const completed: ServerSentEvent[] = [];
      let start = 0;
      if (skipLineFeed) {
        skipLineFeed = false;
        if (buffer[0] === lineFeed) start = 1;
      }
      // The next LF and CR at or after `start`, each found once per position: the scan stays linear in the chunk.
      let nextLineFeed = buffer.indexOf(lineFeed, start);
      let nextCarriageReturn = buffer.indexOf(carriageReturn, start);
      while (start < buffer.length) {
        if (nextLineFeed !== -1 && nextLineFeed < start) nextLineFeed = buffer.indexOf(lineFeed, start);
        if (nextCarriageReturn !== -1 && nextCarriageReturn < start) nextCarriageReturn = buffer.indexOf(carriageReturn, start);
        const end = nextCarriageReturn === -1 ? nextLineFeed : nextLineFeed === -1 ? nextCarriageReturn : Math.min(nextLineFeed, nextCarriageReturn);
        if (end === -1) {
          pendingBytes += buffer.length - start;
          if (pendingBytes + eventBytes > options.maxEventBytes) throw tooLarge();
          pending.push(buffer.subarray(start));
          break;
        }
        if (pending.length === 0) line(buffer, start, end, completed);
        else {
          pending.push(buffer.subarray(start, end));
          const whole = Buffer.concat(pending);
          pending = [];
          pendingBytes = 0;
          line(whole, 0, whole.length, completed);
        }
        start = end + 1;
        if (buffer[end] === carriageReturn) {
          if (start === buffer.length) skipLineFeed = true;
          else if (buffer[start] === lineFeed) start += 1;
        }
      }
      return completed;
    },
  };
}
