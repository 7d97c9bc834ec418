import { useState } from 'react';
import { useApi } from '../api/api-context.tsx';
import { describeError } from '../api/client.ts';
import { ApprovalCard } from '../components/ApprovalCard.tsx';
import { ErrorNotice, Figure, Loading, PageTitle, StatusBadge } from '../components/common.tsx';
import { formatClock, formatCost, formatDuration, formatTime, formatTokens } from '../components/format.ts';
import { TimeChart } from '../components/TimeChart.tsx';
import { Waterfall } from '../components/Waterfall.tsx';
import { useAgents } from '../hooks/use-agents.ts';
import { useResource } from '../hooks/use-resource.ts';
import { useSessionStream } from '../hooks/use-session-stream.ts';
import { awaitingApproval } from '../model/waterfall.ts';
import type { Waterfall as WaterfallData } from '../model/waterfall.ts';
import { Link, navigate, paths } from '../router.tsx';

const streamLabels = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', ended: 'complete', failed: 'stopped' } as const;

export function SessionPage(props: { readonly sessionId: string }) {
  const { client } = useApi();
  const stream = useSessionStream(client, props.sessionId);
  const ended = stream.waterfall?.end !== null && stream.waterfall?.end !== undefined;
  // The view (status, pending approvals) is polled while the session runs; the waterfall comes from the stream.
  const awaiting = stream.waterfall === null ? 0 : awaitingApproval(stream.waterfall).length;
  const view = useResource(`session:${props.sessionId}`, () => client.session(props.sessionId), { refreshMs: ended ? undefined : 2_000, refreshOn: `${awaiting}:${ended}` });
  const { schemaOf } = useAgents();
  const session = view.data;
  const waterfall = stream.waterfall;

  return (
    <section aria-labelledby="session-title">
      <PageTitle actions={<SessionActions sessionId={props.sessionId} running={session !== undefined && !['completed', 'failed', 'cancelled'].includes(session.status)} onCancelled={view.reload} />}>
        <span id="session-title">
          Session <span className="mono">{props.sessionId}</span>
        </span>
      </PageTitle>
      <ErrorNotice error={view.error} title="Could not read the session" />
      {stream.state === 'failed' ? <ErrorNotice error={stream.detail} title="The event stream stopped" /> : null}
      <dl className="figures" aria-label="Session summary">
        <Figure label="Status">{session === undefined ? '…' : <StatusBadge status={session.status} />}</Figure>
        <Figure label="Agent">{session?.agent ?? waterfall?.agent ?? '…'}</Figure>
        <Figure label="Model">{waterfall?.model ?? '…'}</Figure>
        <Figure label="Turns">{session?.turns ?? '…'}</Figure>
        <Figure label="Tokens in / out">{waterfall === null ? '…' : `${formatTokens(waterfall.totals.inputTokens)} / ${formatTokens(waterfall.totals.outputTokens)}`}</Figure>
        <Figure label="Cost">{waterfall === null ? '…' : formatCost(waterfall.totals.costUsd)}</Figure>
        <Figure label="Duration">{session === undefined ? '…' : formatDuration(session.durationMs)}</Figure>
        <Figure label="Events">
          <span aria-live="polite">
            {stream.events} ({streamLabels[stream.state]})
          </span>
        </Figure>
      </dl>
      {waterfall?.input === null || waterfall?.input === undefined ? null : (
        <p className="task">
          <strong>Task:</strong> {waterfall.input}
        </p>
      )}
      {session === undefined || session.pendingApprovals.length === 0 ? null : (
        <section aria-labelledby="pending-title" className="pending">
          <h2 id="pending-title">Waiting for approval</h2>
          {session.pendingApprovals.map((approval) => (
            <ApprovalCard key={approval.callId} sessionId={session.id} agent={session.agent} approval={approval} schema={schemaOf(session.agent, approval.tool)} onDecided={view.reload} />
          ))}
        </section>
      )}
      {waterfall === null ? <Loading what="the journal" /> : <SessionBody sessionId={props.sessionId} waterfall={waterfall} />}
      {session?.output === null || session?.output === undefined ? null : (
        <section aria-labelledby="output-title">
          <h2 id="output-title">Output</h2>
          <pre className="output">{session.output}</pre>
        </section>
      )}
      {session?.error === null || session?.error === undefined ? null : (
        <div role="alert" className="notice notice-error">
          <strong>{session.error.code}:</strong> {session.error.message}
        </div>
      )}
    </section>
  );
}

function SessionBody(props: { readonly sessionId: string; readonly waterfall: WaterfallData }) {
  const { waterfall } = props;
  const turns = waterfall.rows.filter((row) => row.kind === 'turn');
  const modelCalls = waterfall.rows.filter((row) => row.kind === 'model' && row.endAt !== null);
  return (
    <>
      {waterfall.markers.length === 0 ? null : (
        <section aria-labelledby="markers-title">
          <h2 id="markers-title">Guard trips and anomalies</h2>
          <ul className="markers" aria-labelledby="markers-title">
            {waterfall.markers.map((marker, index) => (
              <li key={index} className={`marker marker-${marker.kind}`}>
                <strong>{marker.title}</strong> in turn {marker.turn}: {marker.message}
              </li>
            ))}
          </ul>
        </section>
      )}
      <section aria-labelledby="waterfall-title">
        <h2 id="waterfall-title">Waterfall</h2>
        <Waterfall waterfall={waterfall} />
      </section>
      <section aria-labelledby="turns-title">
        <h2 id="turns-title">Turns</h2>
        <table className="data" aria-label="Turns">
          <thead>
            <tr>
              <th scope="col">Turn</th>
              <th scope="col">Started</th>
              <th scope="col" className="number">Tokens in</th>
              <th scope="col" className="number">Tokens out</th>
              <th scope="col" className="number">Cost</th>
              <th scope="col" className="number">Duration</th>
              <th scope="col">Inspect</th>
            </tr>
          </thead>
          <tbody>
            {turns.map((row) => (
              <tr key={row.key} className={row.flags.length > 0 ? 'flagged' : undefined}>
                <th scope="row">Turn {row.turn}</th>
                <td>{formatTime(row.startAt)}</td>
                <td className="number">{formatTokens(row.inputTokens)}</td>
                <td className="number">{formatTokens(row.outputTokens)}</td>
                <td className="number">{row.costUsd === null ? '—' : formatCost(row.costUsd)}</td>
                <td className="number">{formatDuration((row.endAt ?? row.startAt) - row.startAt)}</td>
                <td className="links">
                  <Link to={paths.explain(props.sessionId, row.turn)}>Explain turn {row.turn}</Link>
                  <Link to={paths.replay(props.sessionId, row.turn)}>Replay turn {row.turn}</Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <CompareTurns sessionId={props.sessionId} turns={turns.map((row) => row.turn)} />
        <p>
          <Link to={paths.audit(props.sessionId)}>Audit log of this session</Link>
        </p>
      </section>
      <div className="charts">
        <TimeChart title="Model call latency" yLabel="latency" points={modelCalls.map((row) => ({ x: row.startAt, y: (row.endAt ?? row.startAt) - row.startAt, label: `turn ${row.turn}` }))} formatX={formatClock} formatY={formatDuration} />
        <TimeChart title="Cost per turn" yLabel="cost" line points={turns.map((row) => ({ x: row.startAt, y: row.costUsd ?? 0, label: `turn ${row.turn}` }))} formatX={formatClock} formatY={formatCost} />
      </div>
    </>
  );
}

/** Opens the context diff of two turns of this session (or of another session's turn, by id). */
function CompareTurns(props: { readonly sessionId: string; readonly turns: readonly number[] }) {
  const [a, setA] = useState('');
  const [b, setB] = useState('');
  if (props.turns.length === 0) return null;
  const first = a === '' ? String(props.turns[0]) : a;
  const second = b === '' ? String(props.turns.at(-1)) : b;
  const side = (value: string): string => (/^\d+$/.test(value) ? `${props.sessionId}:${value}` : value);
  return (
    <form
      className="filters compare"
      aria-label="Compare two turns"
      onSubmit={(event) => {
        event.preventDefault();
        navigate(paths.diff(side(first), side(second)));
      }}
    >
      <label>
        Compare turn
        <select value={first} onChange={(event) => setA(event.target.value)}>
          {props.turns.map((turn) => (
            <option key={turn} value={String(turn)}>
              {turn}
            </option>
          ))}
        </select>
      </label>
      <label>
        with turn
        <select value={second} onChange={(event) => setB(event.target.value)}>
          {props.turns.map((turn) => (
            <option key={turn} value={String(turn)}>
              {turn}
            </option>
          ))}
        </select>
      </label>
      <button type="submit">Show context diff</button>
    </form>
  );
}

function SessionActions(props: { readonly sessionId: string; readonly running: boolean; readonly onCancelled: () => void }) {
  const { client, me } = useApi();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!props.running || !(me.roles.includes('run') || me.roles.includes('admin'))) return null;
  return (
    <>
      <button
        type="button"
        className="danger"
        disabled={busy}
        onClick={() => {
          if (!window.confirm('Cancel this session? Calls in flight are aborted and compensations run.')) return;
          setBusy(true);
          client.cancel(props.sessionId).then(
            () => {
              setBusy(false);
              props.onCancelled();
            },
            (thrown: unknown) => {
              setBusy(false);
              setError(describeError(thrown));
            },
          );
        }}
      >
        Cancel session
      </button>
      {error === null ? null : (
        <span role="alert" className="problems">
          {error}
        </span>
      )}
    </>
  );
}
