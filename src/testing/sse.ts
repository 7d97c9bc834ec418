import type { ServerResponse } from 'node:http';

/** Starts a `text/event-stream` response, as both providers send one. */
export function startEventStream(response: ServerResponse, headers: Readonly<Record<string, string>> = {}): void {
  response.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', ...headers });
  response.flushHeaders();
}

/** One server-sent event: an optional `event:` line, a `data:` line and the blank line that ends it. */
export function writeEvent(response: ServerResponse, data: unknown, event?: string): void {
  const payload = typeof data === 'string' ? data : JSON.stringify(data);
  response.write(`${event === undefined ? '' : `event: ${event}\n`}data: ${payload}\n\n`);
}
