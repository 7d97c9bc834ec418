import { KeelError } from '../errors/index.ts';
import type { Clock } from '../spec/clock.ts';

/**
 * The LLM call log, one entry per model call, on one of two channels:
 * - `sampled`: the ordinary observability log. Token counts always; the prompt and response only for
 *   sampled calls, and then redacted.
 * - `audit`: the isolated, access-controlled log of full prompts and responses.
 * Retention erases the texts of old entries (`purgeOlderThan`) and keeps the rows, so token counts,
 * hashes and the link to the journal survive. The journal itself never holds prompt text.
 */
import type { CallLogChannel, CallLogStore, StoredCallLogEntry } from '../spec/call-log.ts';

export type { CallLogChannel, CallLogEntry, CallLogPurge, CallLogStore, StoredCallLogEntry } from '../spec/call-log.ts';

export interface MemoryCallLogOptions {
  readonly channel?: CallLogChannel;
  /** Stamps `purgedAt`; defaults to the system clock. */
  readonly clock?: Pick<Clock, 'now'>;
}

/** A call log in process memory, for tests. */
export function createMemoryCallLog(options: MemoryCallLogOptions = {}): CallLogStore {
  const channel = options.channel ?? 'audit';
  const clock = options.clock ?? { now: () => Date.now() };
  const entries = new Map<string, StoredCallLogEntry>();
  let closed = false;

  function ensureOpen(): void {
    if (closed) throw new KeelError('storage-failure', `The in-memory ${channel} call log is closed.`, { retryable: false });
  }

  return {
    channel,
    async record(entry) {
      ensureOpen();
      const key = JSON.stringify([entry.sessionId, entry.turn, entry.responseId]);
      if (entries.has(key)) return false;
      entries.set(key, Object.freeze({ ...structuredClone(entry), purgedAt: null }));
      return true;
    },
    async read(sessionId) {
      ensureOpen();
      return [...entries.values()].filter((entry) => entry.sessionId === sessionId).sort((a, b) => a.turn - b.turn || a.at - b.at);
    },
    async purgeOlderThan(cutoff) {
      ensureOpen();
      const now = clock.now();
      let purged = 0;
      for (const [key, entry] of entries) {
        if (entry.at >= cutoff || entry.purgedAt !== null || (entry.prompt === null && entry.response === null)) continue;
        entries.set(key, Object.freeze({ ...entry, prompt: null, response: null, purgedAt: now }));
        purged += 1;
      }
      return { purged };
    },
    async close() {
      closed = true;
    },
  };
}
