// Heap captures of a measured phase, for finding what a running session holds:
//   BENCH_HEAP_SNAPSHOT=<file.heapsnapshot>  a full heap snapshot (V8 collects garbage first)
//   BENCH_HEAP_PROFILE=<file.heapprofile>    a sampling heap profile: the allocation stacks of the objects still
//                                            alive at the capture (after a full GC when run with --expose-gc)
//   BENCH_HEAP_PROFILE_GARBAGE=1             the sampling profile keeps objects a major GC collected too: with it the
//                                            profile shows what was promoted to old space and died there (what makes
//                                            the heap, and RSS, grow between major collections), not only what lives
//   BENCH_HEAP_AT=<ms>|end                   capture that many ms after the measured phase started, or at its end; by
//                                            default when the first measured session ends (every other one is then in
//                                            its last turns)
// Both slow the process down while they run; the figures of such a measurement are not comparable.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { writeHeapSnapshot } from 'node:v8';

export interface HeapCapture {
  /** Called when a measured session ends; the first call triggers the capture unless BENCH_HEAP_AT gives a time. */
  readonly sessionEnded: () => void;
  /** Waits for a capture in progress, stops the sampler; returns what was written. */
  readonly finish: () => Promise<readonly string[]>;
}

const gc = (globalThis as { gc?: () => void }).gc;

export async function startHeapCapture(): Promise<HeapCapture> {
  const snapshotFile = process.env.BENCH_HEAP_SNAPSHOT ?? '';
  const profileFile = process.env.BENCH_HEAP_PROFILE ?? '';
  const atText = process.env.BENCH_HEAP_AT ?? '';
  if (snapshotFile === '' && profileFile === '') return { sessionEnded: () => undefined, finish: async () => [] };
  const atEnd = atText === 'end';
  const atMs = atText === '' || atEnd ? undefined : Number(atText);
  if (atMs !== undefined && !(Number.isFinite(atMs) && atMs >= 0)) throw new Error(`BENCH_HEAP_AT must be milliseconds or "end", got "${atText}".`);
  const garbage = process.env.BENCH_HEAP_PROFILE_GARBAGE === '1';

  let session: Session | undefined;
  if (profileFile !== '') {
    session = new Session();
    session.connect();
    await session.post('HeapProfiler.enable');
    // includeObjectsCollectedByMajorGC is in V8's protocol (Node 20 and later), not yet in @types/node.
    const parameters = { samplingInterval: 16_384, includeObjectsCollectedByMajorGC: garbage };
    await session.post('HeapProfiler.startSampling', parameters as { samplingInterval: number });
  }
  const written: string[] = [];
  let capture: Promise<void> | undefined;
  const captureNow = (): void => {
    if (capture !== undefined) return;
    capture = (async () => {
      if (session !== undefined) {
        gc?.();
        const { profile } = await session.post('HeapProfiler.getSamplingProfile');
        writeFileSync(profileFile, JSON.stringify(profile));
        written.push(profileFile);
      }
      if (snapshotFile !== '') written.push(writeHeapSnapshot(snapshotFile));
    })();
  };
  const timer = atMs === undefined ? undefined : setTimeout(captureNow, atMs);
  return {
    sessionEnded: () => {
      if (atMs === undefined && !atEnd) captureNow();
    },
    finish: async () => {
      if (timer !== undefined) clearTimeout(timer);
      if (atEnd) captureNow();
      await capture;
      if (session !== undefined) {
        await session.post('HeapProfiler.stopSampling');
        session.disconnect();
      }
      return written;
    },
  };
}
