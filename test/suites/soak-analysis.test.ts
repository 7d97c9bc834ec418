import { describe, expect, it } from 'vitest';
import { analyzeSoak, defaultThresholds, fitLine, judgeEventLoopDelay, judgeFileDescriptors, judgeMemory, warmUpSeconds } from '../../bench/soak/analysis.ts';
import type { Point } from '../../bench/soak/analysis.ts';

// Deterministic noise (a linear congruential generator), so a failure here is reproducible.
function noise(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
}

/** A sample every `everySeconds` for `minutes`: base + slope·t + uniform noise of the given amplitude. */
function series(minutes: number, base: number, perTenMinutes: number, amplitude: number, seed = 7, everySeconds = 10): Point[] {
  const random = noise(seed);
  const points: Point[] = [];
  for (let seconds = 0; seconds <= minutes * 60; seconds += everySeconds) {
    points.push({ seconds, value: base + (perTenMinutes / 600) * seconds + amplitude * random() });
  }
  return points;
}

describe('soak analysis', () => {
  it('fits an exact line exactly', () => {
    const fit = fitLine([0, 10, 20, 30].map((seconds) => ({ seconds, value: 5 + 0.5 * seconds })));
    expect(fit.slope).toBeCloseTo(0.5, 12);
    expect(fit.intercept).toBeCloseTo(5, 12);
    expect(fit.slopeStandardError).toBeCloseTo(0, 12);
  });

  it('reports a heap that grows 6 MB per 10 minutes under noise as GROWING', () => {
    const verdict = judgeMemory('heapUsed', series(27, 80, 6, 4), defaultThresholds.heapMegabytesPerTenMinutes);
    expect(verdict.verdict).toBe('GROWING');
    expect(verdict.slopePerTenMinutes).toBeGreaterThan(5);
    expect(verdict.slopePerTenMinutes).toBeLessThan(7);
  });

  it('reports a flat heap with noise much larger than the threshold as FLAT', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      expect(judgeMemory('heapUsed', series(27, 80, 0, 12, seed), defaultThresholds.heapMegabytesPerTenMinutes).verdict).toBe('FLAT');
    }
  });

  it('does not call a slow drift below the threshold GROWING, however clean', () => {
    expect(judgeMemory('heapUsed', series(27, 80, 1, 0.1), defaultThresholds.heapMegabytesPerTenMinutes).verdict).toBe('FLAT');
  });

  it('gives no verdict on too few samples', () => {
    expect(judgeMemory('heapUsed', series(0.5, 80, 100, 0), 2).verdict).toBe('UNKNOWN');
  });

  it('reports descriptors that climb by one a minute as GROWING, and a jittering constant count as FLAT', () => {
    const climbing = series(27, 60, 10, 0).map((point) => ({ ...point, value: Math.round(point.value) }));
    expect(judgeFileDescriptors(climbing).verdict).toBe('GROWING');
    const jitter = noise(11);
    const steady = series(27, 60, 0, 0).map((point) => ({ ...point, value: 60 + Math.round(8 * jitter()) }));
    expect(judgeFileDescriptors(steady).verdict).toBe('FLAT');
  });

  it('reports descriptors that jump once and stay up as GROWING even without a long trend', () => {
    const step = series(27, 60, 0, 0).map((point) => ({ ...point, value: point.seconds > 1500 ? 90 : 60 }));
    expect(judgeFileDescriptors(step).verdict).toBe('GROWING');
  });

  it('reports an event-loop delay that doubles in the second half as GROWING, a spiky flat one as FLAT', () => {
    const doubling = series(27, 20, 0, 2).map((point) => ({ ...point, value: point.seconds > 810 ? point.value * 2.2 : point.value }));
    expect(judgeEventLoopDelay(doubling).verdict).toBe('GROWING');
    const spiky = series(27, 20, 0, 4).map((point, index) => ({ ...point, value: index % 17 === 0 ? 400 : point.value }));
    expect(judgeEventLoopDelay(spiky).verdict).toBe('FLAT');
    // Tiny absolute delays may double without meaning anything.
    const tiny = series(27, 2, 0, 0).map((point) => ({ ...point, value: point.seconds > 810 ? 5 : 2 }));
    expect(judgeEventLoopDelay(tiny).verdict).toBe('FLAT');
  });

  it('ignores the warm-up: a heap that climbs for the first minutes then levels off is FLAT', () => {
    const warmUp = warmUpSeconds(30 * 60);
    expect(warmUp).toBe(180);
    const heap = series(30, 80, 0, 3).map((point) => ({ ...point, value: point.value + Math.min(point.seconds, 150) * 0.2 }));
    const flat = series(30, 60, 0, 0);
    const analysis = analyzeSoak({ heapUsedMegabytes: heap, rssMegabytes: heap, openFileDescriptors: flat, eventLoopDelayP99Ms: series(30, 20, 0, 2) }, 30 * 60);
    expect(analysis.verdicts.map((verdict) => `${verdict.metric}:${verdict.verdict}`)).toEqual(['heapUsed:FLAT', 'RSS:FLAT', 'open fds:FLAT', 'ELD p99:FLAT']);
    expect(analysis.flat).toBe(true);
    // Without the warm-up cut the same climb would be a leak.
    expect(judgeMemory('heapUsed', heap, defaultThresholds.heapMegabytesPerTenMinutes).verdict).toBe('GROWING');
  });

  it('keeps most samples of a short verification run', () => {
    expect(warmUpSeconds(180)).toBeCloseTo(72, 6);
    expect(warmUpSeconds(3600)).toBe(360);
  });
});
