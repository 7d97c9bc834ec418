import pg from 'pg';

/** A LISTEN connection; `close` ends it. */
export interface QueueListener {
  close(): Promise<void>;
}

interface ListenOptions {
  readonly url: string;
  readonly channel: string;
  readonly onReady: (sessionId: string) => void;
}

const reconnectDelaysMs = [100, 250, 500, 1000, 2000, 5000];

/**
 * LISTENs on the queue's channel on a connection of its own. A lost connection is reopened with back-off; until it
 * is, workers still find ready sessions by polling, so a notification lost in between delays a run, never loses it.
 * The first connection must succeed: a wrong URL is reported at once.
 */
export async function listenForReadySessions(options: ListenOptions): Promise<QueueListener> {
  let closed = false;
  let client: pg.Client | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;

  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: options.url });
    next.on('notification', (message) => {
      if (message.channel === options.channel && message.payload !== undefined && message.payload !== '') options.onReady(message.payload);
    });
    next.on('error', () => reconnect(next));
    next.on('end', () => reconnect(next));
    await next.connect();
    await next.query(`LISTEN ${options.channel}`);
    if (closed) {
      await next.end().catch(() => undefined);
      return;
    }
    client = next;
    failures = 0;
  };

  const reconnect = (lost: pg.Client): void => {
    if (closed || client !== lost) return;
    client = undefined;
    lost.end().catch(() => undefined);
    schedule();
  };

  const schedule = (): void => {
    const delay = reconnectDelaysMs[Math.min(failures, reconnectDelaysMs.length - 1)] ?? 5000;
    failures += 1;
    retry = setTimeout(() => {
      connect().catch(() => {
        if (!closed) schedule();
      });
    }, delay);
    retry.unref();
  };

  await connect();
  return {
    async close() {
      closed = true;
      clearTimeout(retry);
      const current = client;
      client = undefined;
      await current?.end().catch(() => undefined);
    },
  };
}
