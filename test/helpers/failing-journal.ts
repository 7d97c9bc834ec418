import { KeelError } from '../../src/errors/index.ts';
import type { Journal, SessionEvent } from '../../src/spec/index.ts';

/**
 * A journal over `inner` that refuses, once, the first append `failWhen` picks (a storage failure, as a full disk
 * gives), and keeps each accepted append's event types in `batches`: for tests of what an append carries and what
 * a failed one loses.
 */
export function journalFailingOnce(inner: Journal, failWhen: (sessionId: string, events: readonly SessionEvent[]) => boolean = () => false): Journal & { readonly batches: string[][]; readonly refused: boolean } {
  const batches: string[][] = [];
  let failed = false;
  return {
    batches,
    /** Whether the one refusal has happened. */
    get refused() {
      return failed;
    },
    read: (sessionId, from) => inner.read(sessionId, from),
    lastSeq: (sessionId) => inner.lastSeq(sessionId),
    listSessions: (options) => inner.listSessions(options),
    close: () => inner.close(),
    append: async (sessionId, events, expectedSeq) => {
      if (!failed && failWhen(sessionId, events)) {
        failed = true;
        throw new KeelError('storage-failure', 'The disk went away (test).');
      }
      batches.push(events.map((event) => event.type));
      return inner.append(sessionId, events, expectedSeq);
    },
  };
}
