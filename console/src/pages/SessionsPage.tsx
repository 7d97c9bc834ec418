import { useState } from 'react';
import { useApi } from '../api/api-context.tsx';
import { describeError } from '../api/client.ts';
import { sessionStatuses } from '../api/types.ts';
import type { SessionStatus } from '../api/types.ts';
import { ErrorNotice, Loading, PageTitle, StatusBadge } from '../components/common.tsx';
import { formatCost, formatDuration, formatTime, formatTokens } from '../components/format.ts';
import { useAgents } from '../hooks/use-agents.ts';
import { useResource } from '../hooks/use-resource.ts';
import { Link, navigate, paths } from '../router.tsx';

/** How often the list asks again: sessions start, advance and end without the page doing anything. */
const refreshMs = 2_000;
const pageSize = 50;

export function SessionsPage() {
  const { client } = useApi();
  const [status, setStatus] = useState<SessionStatus | ''>('');
  const [agent, setAgent] = useState('');
  const [cursors, setCursors] = useState<readonly (string | null)[]>([null]);
  const cursor = cursors.at(-1) ?? null;
  const key = JSON.stringify({ status, agent, cursor });
  const list = useResource(key, () => client.sessions({ status, agent: agent.trim(), cursor, limit: pageSize }), { refreshMs });
  const resetPaging = (): void => setCursors([null]);

  return (
    <section aria-labelledby="sessions-title">
      <PageTitle>
        <span id="sessions-title">Sessions</span>
      </PageTitle>
      <StartSession />
      <form className="filters" role="search" aria-label="Filter sessions" onSubmit={(event) => event.preventDefault()}>
        <label>
          Status
          <select
            value={status}
            onChange={(event) => {
              setStatus(event.target.value as SessionStatus | '');
              resetPaging();
            }}
          >
            <option value="">any</option>
            {sessionStatuses.map((each) => (
              <option key={each} value={each}>
                {each}
              </option>
            ))}
          </select>
        </label>
        <label>
          Agent
          <input
            value={agent}
            placeholder="any"
            onChange={(event) => {
              setAgent(event.target.value);
              resetPaging();
            }}
          />
        </label>
        <span className="muted live-note" aria-live="off">
          Updates every {refreshMs / 1000} s
        </span>
      </form>
      <ErrorNotice error={list.error} title="Could not list sessions" />
      {list.loading ? <Loading what="sessions" /> : null}
      {list.data === undefined ? null : (
        <table className="data" aria-label="Sessions">
          <thead>
            <tr>
              <th scope="col">Session</th>
              <th scope="col">Status</th>
              <th scope="col">Agent</th>
              <th scope="col">Started</th>
              <th scope="col" className="number">Turns</th>
              <th scope="col" className="number">Tokens in</th>
              <th scope="col" className="number">Tokens out</th>
              <th scope="col" className="number">Cost</th>
              <th scope="col" className="number">Duration</th>
            </tr>
          </thead>
          <tbody>
            {list.data.sessions.length === 0 ? (
              <tr>
                <td colSpan={9} className="muted">
                  No sessions match.
                </td>
              </tr>
            ) : null}
            {list.data.sessions.map((session) => (
              <tr key={session.id}>
                <th scope="row">
                  <Link to={paths.session(session.id)} className="mono">
                    {session.id}
                  </Link>
                </th>
                <td>
                  <StatusBadge status={session.status} />
                  {session.pendingApprovals.length > 0 ? <span className="muted"> ({session.pendingApprovals.length} waiting)</span> : null}
                </td>
                <td>{session.agent}</td>
                <td>{formatTime(session.createdAt)}</td>
                <td className="number">{session.turns}</td>
                <td className="number">{formatTokens(session.usage.inputTokens + session.usage.cacheReadTokens + session.usage.cacheWriteTokens)}</td>
                <td className="number">{formatTokens(session.usage.outputTokens)}</td>
                <td className="number">{formatCost(session.costUsd)}</td>
                <td className="number">{formatDuration(session.durationMs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav className="pager" aria-label="Pages of sessions">
        <button type="button" disabled={cursors.length <= 1} onClick={() => setCursors((previous) => previous.slice(0, -1))}>
          Newer
        </button>
        <button type="button" disabled={list.data?.nextCursor === null || list.data === undefined} onClick={() => setCursors((previous) => [...previous, list.data?.nextCursor ?? null])}>
          Older
        </button>
      </nav>
    </section>
  );
}

/** Starts a session of a registered agent (needs the run role); opens its page at once to watch it. */
function StartSession() {
  const { client, me } = useApi();
  const { agents, error: agentsError } = useAgents();
  const [agent, setAgent] = useState('');
  const [task, setTask] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!me.roles.includes('run') && !me.roles.includes('admin')) return null;
  const chosen = agent === '' ? (agents[0]?.name ?? '') : agent;
  const defaultTask = agents.find((each) => each.name === chosen)?.defaultTask ?? null;
  const taskToSend = task.trim() === '' ? (defaultTask ?? '') : task;
  return (
    <details className="card start-session">
      <summary>Start a session</summary>
      <ErrorNotice error={agentsError} title="Could not list agents" />
      <form
        className="stack"
        onSubmit={(event) => {
          event.preventDefault();
          setBusy(true);
          setError(null);
          client.startSession({ agent: chosen, task: taskToSend }).then(
            (session) => navigate(paths.session(session.id)),
            (thrown: unknown) => {
              setError(describeError(thrown));
              setBusy(false);
            },
          );
        }}
      >
        <label htmlFor="start-agent">Agent</label>
        <select id="start-agent" value={chosen} onChange={(event) => setAgent(event.target.value)}>
          {agents.map((each) => (
            <option key={each.name} value={each.name}>
              {each.name}
              {each.description === null ? '' : ` — ${each.description}`}
            </option>
          ))}
        </select>
        <label htmlFor="start-task">Task</label>
        <textarea id="start-task" rows={3} value={task} placeholder={defaultTask ?? ''} onChange={(event) => setTask(event.target.value)} />
        <div className="actions">
          <button type="submit" className="primary" disabled={busy || chosen === '' || taskToSend.trim() === ''}>
            Start
          </button>
        </div>
        {error === null ? null : (
          <p role="alert" className="problems">
            {error}
          </p>
        )}
      </form>
    </details>
  );
}
