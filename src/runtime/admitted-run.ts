import type { SessionRun, SessionUpdate } from '../loop/index.ts';

/**
 * A run that starts only once admission control lets it: a refusal (`admission-refused`, with the time to retry)
 * rejects `result` before anything is journaled or any lease is taken.
 */
export function admittedRun(sessionId: string, admit: () => Promise<void>, start: () => SessionRun): SessionRun {
  const inner = admit().then(start);
  const result = inner.then((run) => run.result);
  // A caller that only iterates must not see an unhandled rejection; one that awaits `result` still gets it.
  result.catch(() => undefined);
  return {
    sessionId,
    result,
    async *[Symbol.asyncIterator](): AsyncIterator<SessionUpdate> {
      yield* await inner;
    },
  };
}
