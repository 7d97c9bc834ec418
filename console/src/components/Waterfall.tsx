import { useNow } from '../hooks/use-now.ts';
import type { Waterfall as WaterfallData, WaterfallRow } from '../model/waterfall.ts';
import { formatCost, formatDuration, formatTokens } from './format.ts';

const stateLabels: Record<WaterfallRow['state'], string> = {
  running: 'running',
  ok: 'ok',
  error: 'error',
  'awaiting-approval': 'awaiting approval',
  denied: 'denied',
  rejected: 'rejected',
};

/**
 * Turns, model calls and tool calls on one time axis, from the session's start to its end (or now, while it runs):
 * each bar starts and ends where its events were journaled, and an open step grows until its outcome arrives.
 */
export function Waterfall(props: { readonly waterfall: WaterfallData }) {
  const { waterfall } = props;
  const live = waterfall.end === null;
  const now = useNow(live);
  const start = waterfall.startAt ?? now;
  const end = waterfall.end?.at ?? Math.max(now, waterfall.lastAt ?? now);
  const span = Math.max(end - start, 1);
  const turnsWithMarkers = new Set(waterfall.markers.map((marker) => marker.turn));
  // A turn with a step still open (a call running or waiting for a person) lasts until now.
  const openTurns = new Set(waterfall.rows.filter((row) => row.kind !== 'turn' && row.endAt === null).map((row) => row.turn));

  return (
    <table className="waterfall" aria-label="Waterfall of turns, model calls and tool calls">
      <thead>
        <tr>
          <th scope="col">Step</th>
          <th scope="col">State</th>
          <th scope="col" className="number">Tokens in</th>
          <th scope="col" className="number">Tokens out</th>
          <th scope="col" className="number">Cost</th>
          <th scope="col" className="number">Duration</th>
          <th scope="col" className="timeline-head">
            Timeline <span className="muted">({formatDuration(span)})</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {waterfall.rows.length === 0 ? (
          <tr>
            <td colSpan={7} className="muted">
              No steps yet.
            </td>
          </tr>
        ) : null}
        {waterfall.rows.map((row) => {
          const rowEnd = row.kind === 'turn' && openTurns.has(row.turn) ? end : (row.endAt ?? end);
          const left = ((row.startAt - start) / span) * 100;
          const width = Math.max(((rowEnd - row.startAt) / span) * 100, 0.4);
          const flagged = row.flags.length > 0 || (row.kind === 'turn' && turnsWithMarkers.has(row.turn));
          return (
            <tr key={row.key} className={`step step-${row.kind}${flagged ? ' flagged' : ''}`} data-kind={row.kind} data-state={row.state}>
              <th scope="row" className="step-name">
                <span className="step-label">{row.label}</span>
                {row.detail === '' ? null : <span className="step-detail">{row.detail}</span>}
                {row.flags.map((flag) => (
                  <span key={flag} className="flag">
                    ⚠ {flag}
                  </span>
                ))}
              </th>
              <td>
                <span className={`state state-${row.state}`}>{stateLabels[row.state]}</span>
              </td>
              <td className="number">{formatTokens(row.inputTokens)}</td>
              <td className="number">{formatTokens(row.outputTokens)}</td>
              <td className="number">{row.costUsd === null ? '—' : formatCost(row.costUsd)}</td>
              <td className="number">{formatDuration(rowEnd - row.startAt)}</td>
              <td className="timeline" aria-hidden="true">
                <div className="track">
                  <div className={`bar bar-${row.kind} bar-${row.state}`} style={{ left: `${Math.min(Math.max(left, 0), 99.6)}%`, width: `${Math.min(width, 100 - Math.max(left, 0))}%` }} />
                </div>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
