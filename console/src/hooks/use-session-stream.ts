import { useEffect, useState } from 'react';
import { followSessionEvents } from '../api/event-stream.ts';
import type { StreamState } from '../api/event-stream.ts';
import type { ApiClient } from '../api/client.ts';
import { WaterfallBuilder } from '../model/waterfall.ts';
import type { Waterfall } from '../model/waterfall.ts';

export interface SessionStream {
  readonly waterfall: Waterfall | null;
  readonly state: StreamState;
  readonly detail: string | null;
  /** Events received, repeats after a reconnect excluded. */
  readonly events: number;
}

interface Snapshot {
  readonly sessionId: string;
  readonly waterfall: Waterfall;
  readonly events: number;
}

/**
 * The session's journal from its first event, then live: each event is folded into the waterfall as it arrives, and
 * the page redraws at most once a frame however fast events come.
 */
export function useSessionStream(client: ApiClient, sessionId: string): SessionStream {
  const [snapshot, setSnapshot] = useState<Snapshot | null>(null);
  const [status, setStatus] = useState<{ sessionId: string; state: StreamState; detail: string | null } | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    const builder = new WaterfallBuilder();
    let events = 0;
    let frame = 0;
    const flush = (): void => {
      frame = 0;
      setSnapshot({ sessionId, waterfall: builder.snapshot(), events });
    };
    void followSessionEvents({
      client,
      sessionId,
      after: 0,
      signal: controller.signal,
      onEvent: (event) => {
        if (!builder.add(event)) return;
        events += 1;
        if (frame === 0) frame = requestAnimationFrame(flush);
      },
      onState: (state, detail) => setStatus({ sessionId, state, detail: detail ?? null }),
    });
    return () => {
      controller.abort();
      if (frame !== 0) cancelAnimationFrame(frame);
    };
  }, [client, sessionId]);

  const current = snapshot?.sessionId === sessionId ? snapshot : null;
  const stream = status?.sessionId === sessionId ? status : null;
  return { waterfall: current?.waterfall ?? null, state: stream?.state ?? 'connecting', detail: stream?.detail ?? null, events: current?.events ?? 0 };
}
