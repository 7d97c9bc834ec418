import { useState } from 'react';
import { useApi } from '../api/api-context.tsx';
import type { SessionView } from '../api/types.ts';
import { ErrorNotice, Figure, Loading, PageTitle } from '../components/common.tsx';
import { formatClock, formatCost, formatDayTime, formatDuration, formatTime, formatTokens } from '../components/format.ts';
import { TimeChart } from '../components/TimeChart.tsx';
import { useResource } from '../hooks/use-resource.ts';

const ranges = { '1h': 3_600_000, '24h': 86_400_000, '7d': 604_800_000 } as const;
type Range = keyof typeof ranges;
/** The API's largest page; the charts read the newest sessions of the range. */
const maxSessions = 200;

/** Cost and duration of the sessions that started in a time range, over time. */
export function ChartsPage() {
  const { client } = useApi();
  const [range, setRange] = useState<Range>('24h');
  const list = useResource(`charts:${range}`, () => client.sessions({ since: Date.now() - ranges[range], limit: maxSessions }), { refreshMs: 10_000 });
  const sessions = list.data?.sessions ?? [];
  return (
    <section aria-labelledby="charts-title">
      <PageTitle>
        <span id="charts-title">Cost and latency</span>
      </PageTitle>
      <form className="filters" aria-label="Time range" onSubmit={(event) => event.preventDefault()}>
        <label>
          Sessions started in the last
          <select value={range} onChange={(event) => setRange(event.target.value as Range)}>
            <option value="1h">hour</option>
            <option value="24h">24 hours</option>
            <option value="7d">7 days</option>
          </select>
        </label>
      </form>
      <ErrorNotice error={list.error} title="Could not list sessions" />
      {list.loading ? <Loading what="sessions" /> : null}
      {list.data === undefined ? null : <Charts sessions={sessions} truncated={list.data.nextCursor !== null} formatTick={range === '7d' ? formatDayTime : formatClock} />}
    </section>
  );
}

function Charts(props: { readonly sessions: readonly SessionView[]; readonly truncated: boolean; readonly formatTick: (at: number) => string }) {
  const sessions = [...props.sessions].sort((a, b) => a.createdAt - b.createdAt);
  const cumulative = runningTotals(sessions);
  const running = cumulative.at(-1)?.y ?? 0;
  const ended = sessions.filter((session) => ['completed', 'failed', 'cancelled'].includes(session.status));
  const durations = ended.map((session) => session.durationMs).sort((a, b) => a - b);
  const percentile = (share: number): number | null => (durations.length === 0 ? null : (durations[Math.min(durations.length - 1, Math.floor(share * durations.length))] ?? null));
  const unpriced = sessions.filter((session) => session.costUsd === null).length;
  const tokens = sessions.reduce((sum, session) => sum + session.usage.inputTokens + session.usage.outputTokens + session.usage.cacheReadTokens + session.usage.cacheWriteTokens, 0);
  return (
    <>
      <dl className="figures" aria-label="Totals of the range">
        <Figure label="Sessions">
          {sessions.length}
          {props.truncated ? ` (newest ${maxSessions})` : ''}
        </Figure>
        <Figure label="Cost">
          {formatCost(running)}
          {unpriced > 0 ? ` (+${unpriced} unpriced)` : ''}
        </Figure>
        <Figure label="Tokens">{formatTokens(tokens)}</Figure>
        <Figure label="Duration p50">{formatDuration(percentile(0.5))}</Figure>
        <Figure label="Duration p95">{formatDuration(percentile(0.95))}</Figure>
      </dl>
      <div className="charts">
        <TimeChart title="Cost per session" yLabel="cost" points={sessions.map((session) => ({ x: session.createdAt, y: session.costUsd ?? 0, label: session.id }))} formatX={formatTime} formatTick={props.formatTick} formatY={formatCost} />
        <TimeChart title="Cumulative cost" yLabel="cost" line points={cumulative} formatX={formatTime} formatTick={props.formatTick} formatY={formatCost} />
        <TimeChart title="Session duration (ended sessions)" yLabel="duration" points={ended.map((session) => ({ x: session.createdAt, y: session.durationMs, label: session.id }))} formatX={formatTime} formatTick={props.formatTick} formatY={formatDuration} />
      </div>
    </>
  );
}

/** The cost of all sessions up to and including each one, in start order. */
function runningTotals(sessions: readonly SessionView[]): { x: number; y: number; label: string }[] {
  const points: { x: number; y: number; label: string }[] = [];
  let total = 0;
  for (const session of sessions) {
    total += session.costUsd ?? 0;
    points.push({ x: session.createdAt, y: total, label: session.id });
  }
  return points;
}
