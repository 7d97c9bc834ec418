import type { Context } from 'hono';
import { stream } from 'hono/streaming';
import { KeelError } from '../errors/index.ts';
import type { ServerContext, ServerEnv } from './server-context.ts';

/** Events written before the stream yields to read the journal again (a long session's backlog in slices). */
const batchSize = 500;

/** The SSE id a client resumes from: `Last-Event-ID` wins over `?after=`; both are journal sequence numbers. */
export function resumePoint(lastEventId: string | undefined, after: number | undefined): number {
  if (lastEventId === undefined || lastEventId.trim() === '') return after ?? 0;
  const text = lastEventId.trim();
  if (!/^\d{1,15}$/.test(text)) throw new KeelError('invalid-argument', `Last-Event-ID must be the id of an event this stream sent (a journal sequence number), got "${text.slice(0, 40)}".`);
  return Number(text);
}

/**
 * Streams a session's journal as server-sent events from `after` on: `id` is the event's seq, so a client that
 * reconnects with `Last-Event-ID` gets exactly the events it has not seen. The journal is read again whenever the
 * session journals something (or every `pollMs` for a session another process runs); after `session-end` an `end`
 * event closes the stream.
 */
export function streamSessionEvents(c: Context<ServerEnv>, context: ServerContext, sessionId: string, after: number): Response {
  c.header('Content-Type', 'text/event-stream; charset=utf-8');
  c.header('Cache-Control', 'no-cache, no-transform');
  c.header('X-Accel-Buffering', 'no');
  return stream(c, async (output) => {
    const closed = new AbortController();
    output.onAbort(() => closed.abort());
    c.req.raw.signal.addEventListener('abort', () => closed.abort(), { once: true });
    let cursor = after;
    let lastWriteAt = context.now();
    await output.write(': connected\n\n');
    while (!closed.signal.aborted) {
      const version = context.hub.version(sessionId);
      let written = 0;
      let endStatus: string | null = null;
      // One write per batch: each write waits for the socket to take it, so events read together go out together.
      let batch = '';
      // From the resume point itself (not after it): a client that already saw `session-end` still gets `end`.
      for await (const event of context.keel.journal.read(sessionId, Math.max(1, cursor))) {
        if (event.type === 'session-end') endStatus = event.status;
        if (event.seq <= cursor) continue;
        batch += `id: ${event.seq}\nevent: session-event\ndata: ${JSON.stringify(event)}\n\n`;
        cursor = event.seq;
        written += 1;
        if (written >= batchSize) break;
      }
      if (written > 0) {
        await output.write(batch);
        lastWriteAt = context.now();
      }
      if (endStatus !== null) {
        await output.write(`event: end\ndata: ${JSON.stringify({ status: endStatus, lastSeq: cursor })}\n\n`);
        return;
      }
      if (written >= batchSize) continue;
      const quietFor = context.now() - lastWriteAt;
      const untilKeepAlive = Math.max(1, context.keepAliveMs - quietFor);
      const wait = context.hub.active(sessionId) === undefined ? Math.min(context.pollMs, untilKeepAlive) : untilKeepAlive;
      await context.hub.wait(sessionId, version, wait, closed.signal);
      if (!closed.signal.aborted && context.now() - lastWriteAt >= context.keepAliveMs) {
        await output.write(': keep-alive\n\n');
        lastWriteAt = context.now();
      }
    }
  });
}
