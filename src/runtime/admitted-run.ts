import type { SessionResult, SessionRun, SessionUpdate } from '../loop/index.ts';

/**
 * A run that starts only once admission control lets it: a refusal (`admission-refused`, with the time to retry)
 * rejects `result` before anything is journaled or any lease is taken.
 */
export function admittedRun(sessionId: string, admit: () => Promise<void>, start: () => SessionRun): SessionRun {
  const inner = admit().then(start);
  const result = inner.then(resultOf);
  // A caller that only iterates must not see an unhandled rejection; one that awaits `result` still gets it.
  result.catch(ignore);
  return iterableAfter(sessionId, result, inner);
}

const resultOf = (run: SessionRun): Promise<SessionResult> => run.result;
const ignore = (): undefined => undefined;

/**
 * The run as its caller sees it: only this object holds the inner run (and so its buffered updates), none of the
 * callbacks the running session keeps, so a caller that drops it lets them go.
 */
export function iterableAfter(sessionId: string, result: Promise<SessionResult>, inner: Promise<SessionRun>): SessionRun {
  return {
    sessionId,
    result,
    async *[Symbol.asyncIterator](): AsyncIterator<SessionUpdate> {
      yield* await inner;
    },
  };
}
