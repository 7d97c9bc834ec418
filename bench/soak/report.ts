// The soak's printed output: the sample table (thinned to at most `maxRows` rows, always keeping the first and the
// last), the verdicts, and the tally of sessions by kind.
import type { SoakAnalysis } from './analysis.ts';
import type { SoakSample } from './sampler.ts';
import type { SessionOutcome } from './sessions.ts';

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join('  ');
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}

export function formatSamples(samples: readonly SoakSample[], warmUpSeconds: number, maxRows = 40): string {
  const stride = Math.max(1, Math.ceil(samples.length / maxRows));
  const shown = samples.filter((_, index) => index % stride === 0 || index === samples.length - 1);
  const rows = shown.map((sample) => [
    `${(sample.elapsedSeconds / 60).toFixed(1)}${sample.elapsedSeconds < warmUpSeconds ? ' w' : ''}`,
    sample.heapUsedMegabytes.toFixed(1),
    sample.rssMegabytes.toFixed(1),
    sample.externalMegabytes.toFixed(1),
    String(sample.openFileDescriptors),
    String(sample.activeResources),
    sample.eventLoopDelayP99Ms.toFixed(1),
    sample.eventLoopDelayMeanMs.toFixed(1),
    sample.cpuPercent.toFixed(0),
    sample.loadAverage.toFixed(1),
    String(sample.sessionsCompleted),
    String(sample.sessionsFailedUnexpectedly),
    String(sample.sessionsInFlight),
    String(sample.faultsInjected),
    sample.journalMegabytes.toFixed(1),
  ]);
  const note = stride > 1 ? `\n(every ${stride}th sample of ${samples.length}; "w" marks the warm-up; session counts are per window)` : '\n("w" marks the warm-up; session counts are per window)';
  return table(['min', 'heap MB', 'RSS MB', 'ext MB', 'fds', 'handles', 'ELD p99', 'ELD mean', 'CPU %', 'load', 'done', 'bad', 'flight', 'faults', 'journal MB'], rows) + note;
}

export function formatVerdicts(analysis: SoakAnalysis): string {
  return table(
    ['metric', 'verdict', 'slope/10 min', '± SE', 'rule (GROWING when)', 'figures'],
    analysis.verdicts.map((verdict) => [
      verdict.metric,
      verdict.verdict,
      Number.isFinite(verdict.slopePerTenMinutes) ? verdict.slopePerTenMinutes.toFixed(2) : '-',
      Number.isFinite(verdict.slopeStandardErrorPerTenMinutes) ? verdict.slopeStandardErrorPerTenMinutes.toFixed(2) : '-',
      verdict.rule,
      verdict.detail,
    ]),
  );
}

const bucketMs = 50;
const bucketCount = 2_400;

/**
 * Sessions by kind, provider and mode, counted as they end. Durations go into fixed 50 ms buckets rather than a
 * list, so that a long soak does not itself grow with the number of sessions it ran.
 */
export class SessionTally {
  private readonly groups = new Map<string, { total: number; misbehaved: number; retries: number; buckets: Uint32Array }>();
  /** The first misbehaving sessions, for the report; later ones are only counted. */
  readonly examples: SessionOutcome[] = [];
  total = 0;
  misbehaved = 0;

  record(outcome: SessionOutcome): void {
    const key = `${outcome.kind} ${outcome.provider} ${outcome.streaming ? 'stream' : 'plain'}`;
    let group = this.groups.get(key);
    if (group === undefined) {
      group = { total: 0, misbehaved: 0, retries: 0, buckets: new Uint32Array(bucketCount) };
      this.groups.set(key, group);
    }
    group.total += 1;
    group.retries += outcome.retries;
    const bucket = Math.min(bucketCount - 1, Math.floor(outcome.durationMs / bucketMs));
    group.buckets[bucket] = (group.buckets[bucket] ?? 0) + 1;
    this.total += 1;
    if (!outcome.ok) {
      group.misbehaved += 1;
      this.misbehaved += 1;
      if (this.examples.length < 20) this.examples.push(outcome);
    }
  }

  format(): string {
    const percentile = (buckets: Uint32Array, total: number, share: number): string => {
      let seen = 0;
      for (let index = 0; index < buckets.length; index += 1) {
        seen += buckets[index] as number;
        if (seen >= share * total) return (((index + 1) * bucketMs) / 1000).toFixed(2);
      }
      return '-';
    };
    const rows = [...this.groups.entries()]
      .sort(([left], [right]) => left.localeCompare(right))
      .map(([key, group]) => [key, String(group.total), String(group.misbehaved), String(group.retries), percentile(group.buckets, group.total, 0.5), percentile(group.buckets, group.total, 0.99)]);
    return table(['kind provider mode', 'sessions', 'misbehaved', 'model retries', 'p50 s ≤', 'p99 s ≤'], rows);
  }
}
