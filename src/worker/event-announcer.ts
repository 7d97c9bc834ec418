/** What the announcer needs of the run queue. */
interface Announces {
  notifySessionEvents(sessionId: string): Promise<void>;
}

/**
 * Announces journal activity of the sessions this worker runs (NOTIFY), so that event streams served by other
 * processes read the journal at once instead of at their next poll. Coalesced per session: while one announcement is
 * in flight, further events only mark the session, and one more announcement follows; a burst of events costs at
 * most two round trips. An announcement is only a hint: a lost one delays a stream until its poll, never loses an event.
 */
export class SessionEventAnnouncer {
  private readonly inFlight = new Set<string>();
  private readonly again = new Set<string>();
  private readonly queue: Announces;
  private readonly onError: (error: unknown) => void;

  constructor(queue: Announces, onError: (error: unknown) => void) {
    this.queue = queue;
    this.onError = onError;
  }

  announce(sessionId: string): void {
    if (this.inFlight.has(sessionId)) {
      this.again.add(sessionId);
      return;
    }
    this.inFlight.add(sessionId);
    void this.queue
      .notifySessionEvents(sessionId)
      .catch((error: unknown) => this.onError(error))
      .finally(() => {
        this.inFlight.delete(sessionId);
        if (this.again.delete(sessionId)) this.announce(sessionId);
      });
  }
}
