// The soak test's verdicts, kept free of I/O so that a unit test can feed it synthetic series. A metric is judged on
// the samples after the warm-up only: allocator pools, JIT code, SQLite's page cache and connection pools all grow at
// first and then level off, which is not a leak.

/** One point of a metric's series: seconds since the soak started, and the value. */
export interface Point {
  readonly seconds: number;
  readonly value: number;
}

export interface LineFit {
  /** Units of the value per second. */
  readonly slope: number;
  readonly intercept: number;
  /** Standard error of the slope; Infinity with fewer than three points, where the residuals say nothing. */
  readonly slopeStandardError: number;
}

export type Verdict = 'FLAT' | 'GROWING' | 'UNKNOWN';

export interface MetricVerdict {
  readonly metric: string;
  readonly verdict: Verdict;
  /** The fitted slope in the metric's unit per 10 minutes. */
  readonly slopePerTenMinutes: number;
  readonly slopeStandardErrorPerTenMinutes: number;
  /** The rule applied, with its thresholds, so the printed verdict can be checked by hand. */
  readonly rule: string;
  /** The figures the rule looked at. */
  readonly detail: string;
}

export interface SoakThresholds {
  /** Heap after a full GC may grow at most this much per 10 minutes. */
  readonly heapMegabytesPerTenMinutes: number;
  readonly rssMegabytesPerTenMinutes: number;
  readonly fileDescriptorsPerTenMinutes: number;
  /** Open descriptors at the end (median of the last samples) may exceed those just after the warm-up by this many. */
  readonly fileDescriptorTolerance: number;
  /** Event-loop delay p99: the second half's median may be at most this multiple of the first half's… */
  readonly eventLoopDelayRatio: number;
  /** …unless the difference is below this many milliseconds, which is scheduling noise on a shared machine. */
  readonly eventLoopDelayFloorMs: number;
  /** A slope counts as growth only when it is this many standard errors above zero; a noisy short run proves nothing. */
  readonly significance: number;
  /** Fewer samples after the warm-up than this, and no verdict is possible. */
  readonly minimumSamples: number;
}

export const defaultThresholds: SoakThresholds = {
  heapMegabytesPerTenMinutes: 2,
  rssMegabytesPerTenMinutes: 10,
  fileDescriptorsPerTenMinutes: 2,
  fileDescriptorTolerance: 10,
  eventLoopDelayRatio: 1.5,
  eventLoopDelayFloorMs: 5,
  significance: 2,
  minimumSamples: 5,
};

const tenMinutes = 600;

/** Ordinary least squares of value on seconds. */
export function fitLine(points: readonly Point[]): LineFit {
  const count = points.length;
  if (count === 0) return { slope: 0, intercept: 0, slopeStandardError: Number.POSITIVE_INFINITY };
  const meanX = points.reduce((sum, point) => sum + point.seconds, 0) / count;
  const meanY = points.reduce((sum, point) => sum + point.value, 0) / count;
  let sxx = 0;
  let sxy = 0;
  for (const point of points) {
    sxx += (point.seconds - meanX) ** 2;
    sxy += (point.seconds - meanX) * (point.value - meanY);
  }
  if (sxx === 0) return { slope: 0, intercept: meanY, slopeStandardError: Number.POSITIVE_INFINITY };
  const slope = sxy / sxx;
  const intercept = meanY - slope * meanX;
  if (count < 3) return { slope, intercept, slopeStandardError: Number.POSITIVE_INFINITY };
  const residualSquares = points.reduce((sum, point) => sum + (point.value - (intercept + slope * point.seconds)) ** 2, 0);
  return { slope, intercept, slopeStandardError: Math.sqrt(residualSquares / (count - 2) / sxx) };
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((left, right) => left - right);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/**
 * Seconds of warm-up to ignore: the larger of 10 % of the run and 2 minutes, but never more than 40 % of it, so a
 * short verification run still keeps most of its samples.
 */
export function warmUpSeconds(durationSeconds: number): number {
  return Math.max(0.1 * durationSeconds, Math.min(120, 0.4 * durationSeconds));
}

export function afterWarmUp(points: readonly Point[], warmUp: number): Point[] {
  return points.filter((point) => point.seconds >= warmUp);
}

const format = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : String(value));

function tooFew(metric: string, points: readonly Point[], thresholds: SoakThresholds, rule: string): MetricVerdict | null {
  if (points.length >= thresholds.minimumSamples) return null;
  return { metric, verdict: 'UNKNOWN', slopePerTenMinutes: Number.NaN, slopeStandardErrorPerTenMinutes: Number.NaN, rule, detail: `${points.length} samples after the warm-up, at least ${thresholds.minimumSamples} needed` };
}

/** Significant growth beyond `limitPerTenMinutes`: the slope exceeds the limit and is clearly above zero. */
function slopeGrows(fit: LineFit, limitPerTenMinutes: number, thresholds: SoakThresholds): boolean {
  const perTenMinutes = fit.slope * tenMinutes;
  return perTenMinutes > limitPerTenMinutes && fit.slope > thresholds.significance * fit.slopeStandardError;
}

/** The medians of the first and the last few samples (up to three each): single samples jump with what is in flight. */
function edgeMedians(points: readonly Point[]): { edge: number; first: number; last: number } {
  const edge = Math.min(3, Math.floor(points.length / 2));
  return { edge, first: median(points.slice(0, edge).map((point) => point.value)), last: median(points.slice(-edge).map((point) => point.value)) };
}

/** A memory series in megabytes: GROWING when its slope is above the limit and significant. */
export function judgeMemory(metric: string, points: readonly Point[], limitPerTenMinutes: number, thresholds: SoakThresholds = defaultThresholds): MetricVerdict {
  const rule = `slope > ${limitPerTenMinutes} MB/10 min and > ${thresholds.significance}·SE`;
  const few = tooFew(metric, points, thresholds, rule);
  if (few !== null) return few;
  const fit = fitLine(points);
  const { edge, first, last } = edgeMedians(points);
  return {
    metric,
    verdict: slopeGrows(fit, limitPerTenMinutes, thresholds) ? 'GROWING' : 'FLAT',
    slopePerTenMinutes: fit.slope * tenMinutes,
    slopeStandardErrorPerTenMinutes: fit.slopeStandardError * tenMinutes,
    rule,
    detail: `first ${format(first, 1)} MB, last ${format(last, 1)} MB (medians of ${edge})`,
  };
}

/** Open descriptors: GROWING on a significant slope above the limit, or when the end is above the start by more than the tolerance. */
export function judgeFileDescriptors(points: readonly Point[], thresholds: SoakThresholds = defaultThresholds): MetricVerdict {
  const metric = 'open fds';
  const rule = `slope > ${thresholds.fileDescriptorsPerTenMinutes}/10 min and > ${thresholds.significance}·SE, or last − first > ${thresholds.fileDescriptorTolerance}`;
  const few = tooFew(metric, points, thresholds, rule);
  if (few !== null) return few;
  const fit = fitLine(points);
  // Medians of three: the count moves with the sockets of the sessions in flight at the moment of the sample.
  const { edge, first, last } = edgeMedians(points);
  const grows = slopeGrows(fit, thresholds.fileDescriptorsPerTenMinutes, thresholds) || last - first > thresholds.fileDescriptorTolerance;
  return {
    metric,
    verdict: grows ? 'GROWING' : 'FLAT',
    slopePerTenMinutes: fit.slope * tenMinutes,
    slopeStandardErrorPerTenMinutes: fit.slopeStandardError * tenMinutes,
    rule,
    detail: `first ${format(first, 0)}, last ${format(last, 0)} (medians of ${edge})`,
  };
}

/**
 * Event-loop delay p99 in milliseconds: GROWING when the second half's median is above the ratio times the first
 * half's and by more than the floor. Medians, because another process on the machine makes single windows spike.
 */
export function judgeEventLoopDelay(points: readonly Point[], thresholds: SoakThresholds = defaultThresholds): MetricVerdict {
  const metric = 'ELD p99';
  const rule = `median 2nd half > ${thresholds.eventLoopDelayRatio}× 1st half and > 1st + ${thresholds.eventLoopDelayFloorMs} ms`;
  const few = tooFew(metric, points, thresholds, rule);
  if (few !== null) return few;
  const fit = fitLine(points);
  const half = Math.floor(points.length / 2);
  const first = median(points.slice(0, half).map((point) => point.value));
  const second = median(points.slice(half).map((point) => point.value));
  const grows = second > thresholds.eventLoopDelayRatio * first && second - first > thresholds.eventLoopDelayFloorMs;
  return {
    metric,
    verdict: grows ? 'GROWING' : 'FLAT',
    slopePerTenMinutes: fit.slope * tenMinutes,
    slopeStandardErrorPerTenMinutes: fit.slopeStandardError * tenMinutes,
    rule,
    detail: `1st half ${format(first, 1)} ms, 2nd half ${format(second, 1)} ms (×${format(second / first)})`,
  };
}

/** The series the soak samples, in the units the verdicts use (MB, count, ms). */
export interface SoakSeries {
  readonly heapUsedMegabytes: readonly Point[];
  readonly rssMegabytes: readonly Point[];
  readonly openFileDescriptors: readonly Point[];
  readonly eventLoopDelayP99Ms: readonly Point[];
}

export interface SoakAnalysis {
  readonly warmUpSeconds: number;
  readonly samplesJudged: number;
  readonly verdicts: readonly MetricVerdict[];
  readonly flat: boolean;
}

export function analyzeSoak(series: SoakSeries, durationSeconds: number, thresholds: SoakThresholds = defaultThresholds): SoakAnalysis {
  const warmUp = warmUpSeconds(durationSeconds);
  const heap = afterWarmUp(series.heapUsedMegabytes, warmUp);
  const verdicts = [
    judgeMemory('heapUsed', heap, thresholds.heapMegabytesPerTenMinutes, thresholds),
    judgeMemory('RSS', afterWarmUp(series.rssMegabytes, warmUp), thresholds.rssMegabytesPerTenMinutes, thresholds),
    judgeFileDescriptors(afterWarmUp(series.openFileDescriptors, warmUp), thresholds),
    judgeEventLoopDelay(afterWarmUp(series.eventLoopDelayP99Ms, warmUp), thresholds),
  ];
  return { warmUpSeconds: warmUp, samplesJudged: heap.length, verdicts, flat: verdicts.every((verdict) => verdict.verdict === 'FLAT') };
}
