/** One server-sent event as the API writes it. */
export interface StreamedEvent {
  readonly id: string | null;
  readonly event: string;
  readonly data: string;
}

/**
 * Reads an SSE response with fetch, as the console does (EventSource cannot send an Authorization header). Calls
 * `onEvent` for each event; returning false from it drops the connection there.
 */
export async function readEventStream(url: string, options: { key: string; lastEventId?: number; signal?: AbortSignal; onEvent: (event: StreamedEvent) => boolean | void }): Promise<{ status: number; ended: boolean }> {
  const controller = new AbortController();
  options.signal?.addEventListener('abort', () => controller.abort(), { once: true });
  const response = await fetch(url, {
    headers: { authorization: `Bearer ${options.key}`, ...(options.lastEventId === undefined ? {} : { 'last-event-id': String(options.lastEventId) }) },
    signal: controller.signal,
  });
  if (response.status !== 200 || response.body === null) return { status: response.status, ended: false };
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { status: 200, ended: true };
      buffer += value;
      let boundary = buffer.indexOf('\n\n');
      while (boundary !== -1) {
        const block = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary + 2);
        boundary = buffer.indexOf('\n\n');
        const event = parseBlock(block);
        if (event === null) continue;
        if (options.onEvent(event) === false) {
          controller.abort();
          return { status: 200, ended: false };
        }
      }
    }
  } catch (error) {
    if (controller.signal.aborted) return { status: 200, ended: false };
    throw error;
  }
}

function parseBlock(block: string): StreamedEvent | null {
  let id: string | null = null;
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':') || line === '') continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') id = value;
    else if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0 && id === null) return null;
  return { id, event, data: data.join('\n') };
}
