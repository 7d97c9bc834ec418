import { createRequire } from 'node:module';
import type * as PgModule from 'pg';
import { cancelChannel, queueChannel, sessionEventsChannel } from './queue-schema.ts';

/** A LISTEN connection; `close` ends it. */
export interface QueueListener {
  close(): Promise<void>;
}

/** What to hear on the queue's channels; each handler gets a session id. */
export interface QueueSubscription {
  /** A session became ready to run. */
  readonly onReady?: (sessionId: string) => void;
  /** A cancel of the session was requested. */
  readonly onCancel?: (sessionId: string) => void;
  /** Events of the session were journaled by a worker. */
  readonly onSessionEvents?: (sessionId: string) => void;
}

interface ListenOptions {
  readonly url: string;
  readonly subscription: QueueSubscription;
}

const reconnectDelaysMs = [100, 250, 500, 1000, 2000, 5000];

/**
 * LISTENs on the queue's channels that `subscription` handles, on a connection of its own. A lost connection is reopened with back-off; until it
 * is, workers still find ready sessions by polling, so a notification lost in between delays a run, never loses it.
 * The first connection must succeed: a wrong URL is reported at once.
 */
export async function listenForReadySessions(options: ListenOptions): Promise<QueueListener> {
  let closed = false;
  let client: PgModule.Client | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;

  const handlers = new Map<string, (sessionId: string) => void>();
  const { onReady, onCancel, onSessionEvents } = options.subscription;
  if (onReady !== undefined) handlers.set(queueChannel, onReady);
  if (onCancel !== undefined) handlers.set(cancelChannel, onCancel);
  if (onSessionEvents !== undefined) handlers.set(sessionEventsChannel, onSessionEvents);

  const connect = async (): Promise<void> => {
    // pg (CommonJS) loads with the first listener, not with `import 'keel'` (a process on SQLite never needs it).
    const pg = createRequire(import.meta.url)('pg') as typeof PgModule;
    const next = new pg.Client({ connectionString: options.url });
    next.on('notification', (message) => {
      const handler = handlers.get(message.channel);
      if (handler !== undefined && message.payload !== undefined && message.payload !== '') handler(message.payload);
    });
    next.on('error', () => reconnect(next));
    next.on('end', () => reconnect(next));
    await next.connect();
    for (const channel of handlers.keys()) await next.query(`LISTEN ${channel}`);
    if (closed) {
      await next.end().catch(() => undefined);
      return;
    }
    client = next;
    failures = 0;
  };

  const reconnect = (lost: PgModule.Client): void => {
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
