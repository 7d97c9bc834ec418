import type { Context } from 'hono';
import { stream } from 'hono/streaming';
import { KeelError } from '../errors/index.ts';
import type { ApiPrincipal } from './api-keys.ts';
import type { ServerContext, ServerEnv } from './server-context.ts';

/** Events written before the stream yields to read the journal again (a long session's backlog in slices). */
const batchSize = 500;

/** A stream of a session no process here runs reads the journal after pollMs, then twice as long each quiet time, up to this many pollMs. */
const maxPollBackoff = 16;

/** The SSE id a client resumes from: `Last-Event-ID` wins over `?after=`; both are journal sequence numbers. */
export function resumePoint(lastEventId: string | undefined, after: number | undefined): number {
  if (lastEventId === undefined || lastEventId.trim() === '') return after ?? 0;
  const text = lastEventId.trim();
  if (!/^\d{1,15}$/.test(text)) throw new KeelError('invalid-argument', `Last-Event-ID must be the id of an event this stream sent (a journal sequence number), got "${text.slice(0, 40)}".`);
  return Number(text);
}

/** Who opens a stream and from where. */
export interface EventStreamRequest {
  readonly sessionId: string;
  /** The resume point: events with a greater seq are sent. */
  readonly after: number;
  readonly principal: ApiPrincipal;
  /** The key as presented, checked again on every wake-up so a revoked key's stream closes. */
  readonly presentedKey: string;
}

/**
 * Streams a session's journal as server-sent events from `after` on: `id` is the event's seq, so a client that
 * reconnects with `Last-Event-ID` gets exactly the events it has not seen. The journal is read again whenever the
 * session journals something here (or, for a session another process runs, after pollMs, backing off while it stays
 * quiet); after `session-end` an `end` event closes the stream. A resume point past the session's last event is
 * answered with `end` at once when the session has ended, else refused with 400 (no stream sent that id).
 */
export async function streamSessionEvents(c: Context<ServerEnv>, context: ServerContext, request: EventStreamRequest): Promise<Response> {
  const start = await startingCursor(context, request);
  const release = context.hub.streams.open(request.principal);
  c.header('Content-Type', 'text/event-stream; charset=utf-8');
  c.header('Cache-Control', 'no-cache, no-transform');
  c.header('X-Accel-Buffering', 'no');
  return stream(c, async (output) => {
    const closed = new AbortController();
    output.onAbort(() => closed.abort());
    c.req.raw.signal.addEventListener('abort', () => closed.abort(), { once: true });
    try {
      await pump({ context, request, closed: closed.signal, cursor: start, write: (text) => output.write(text) });
    } finally {
      release();
    }
  });
}

/** The cursor to read from; a resume point beyond the journal is clamped for an ended session and refused otherwise. */
async function startingCursor(context: ServerContext, request: EventStreamRequest): Promise<number> {
  const lastSeq = await context.keel.journal.lastSeq(request.sessionId);
  if (request.after <= lastSeq) return request.after;
  if (context.hub.active(request.sessionId) === undefined && (await endStatusAt(context, request.sessionId, lastSeq)) !== null) return lastSeq;
  throw new KeelError('invalid-argument', `Resume point ${request.after} is past session ${request.sessionId}'s last event (seq ${lastSeq}); resume from an id this stream sent, or from 0.`);
}

async function endStatusAt(context: ServerContext, sessionId: string, seq: number): Promise<string | null> {
  if (seq < 1) return null;
  for await (const event of context.keel.journal.read(sessionId, seq)) return event.type === 'session-end' ? event.status : null;
  return null;
}

interface PumpState {
  readonly context: ServerContext;
  readonly request: EventStreamRequest;
  readonly closed: AbortSignal;
  readonly write: (text: string) => Promise<unknown>;
  cursor: number;
}

async function pump(state: PumpState): Promise<void> {
  const { context, request, closed } = state;
  const sessionId = request.sessionId;
  let lastWriteAt = context.now();
  let quietPolls = 0;
  await state.write(': connected\n\n');
  while (!closed.aborted) {
    if ((await context.keys.authenticate(request.presentedKey)) === null) {
      await state.write(`event: error\ndata: ${JSON.stringify({ code: 'unauthorized', message: `Key ${request.principal.keyId} was revoked; this stream is closed.` })}\n\n`);
      return;
    }
    const version = context.hub.version(sessionId);
    const read = await readBatch(context, sessionId, state.cursor);
    if (read.batch !== '') {
      await state.write(read.batch);
      state.cursor = read.cursor;
      lastWriteAt = context.now();
      quietPolls = 0;
    }
    if (read.endStatus !== null) {
      await state.write(`event: end\ndata: ${JSON.stringify({ status: read.endStatus, lastSeq: state.cursor })}\n\n`);
      return;
    }
    if (read.full) continue;
    const untilKeepAlive = Math.max(1, context.keepAliveMs - (context.now() - lastWriteAt));
    let wait = untilKeepAlive;
    if (context.hub.active(sessionId) === undefined) {
      wait = Math.min(context.pollMs * 2 ** Math.min(quietPolls, Math.log2(maxPollBackoff)), untilKeepAlive);
      if (read.batch === '') quietPolls += 1;
    }
    await context.hub.wait(sessionId, version, wait, closed);
    if (!closed.aborted && context.now() - lastWriteAt >= context.keepAliveMs) {
      await state.write(': keep-alive\n\n');
      lastWriteAt = context.now();
    }
  }
}

/** Up to batchSize events after `cursor`, as one SSE text (one write: events read together go out together). */
async function readBatch(context: ServerContext, sessionId: string, cursor: number): Promise<{ batch: string; cursor: number; endStatus: string | null; full: boolean }> {
  let batch = '';
  let written = 0;
  let endStatus: string | null = null;
  // From the resume point itself (not after it): a client that already saw `session-end` still gets `end`. The last
  // event read decides: a session resumed after an interrupted end goes on.
  for await (const event of context.keel.journal.read(sessionId, Math.max(1, cursor))) {
    endStatus = event.type === 'session-end' ? event.status : null;
    if (event.seq <= cursor) continue;
    batch += `id: ${event.seq}\nevent: session-event\ndata: ${JSON.stringify(event)}\n\n`;
    cursor = event.seq;
    written += 1;
    if (written >= batchSize) break;
  }
  return { batch, cursor, endStatus: written >= batchSize ? null : endStatus, full: written >= batchSize };
}
