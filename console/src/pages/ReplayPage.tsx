import { useState } from 'react';
import { useApi } from '../api/api-context.tsx';
import type { CounterfactualBody, CounterfactualView } from '../api/types.ts';
import { ErrorNotice, Figure, Loading, PageTitle } from '../components/common.tsx';
import { formatCost, formatDuration } from '../components/format.ts';
import { ContentBlock, Messages } from '../components/Messages.tsx';
import { useResource } from '../hooks/use-resource.ts';
import { Link, paths } from '../router.tsx';

/** The exact request a turn sent, rebuilt from the journal and checked against its hash; and a counterfactual of it. */
export function ReplayPage(props: { readonly sessionId: string; readonly turn: number }) {
  const { client } = useApi();
  const replay = useResource(`replay:${props.sessionId}:${props.turn}`, () => client.replay(props.sessionId, props.turn));
  const data = replay.data;
  return (
    <section aria-labelledby="replay-title">
      <PageTitle
        actions={
          <>
            <Link to={paths.explain(props.sessionId, props.turn)}>Explain this turn</Link>
          </>
        }
      >
        <span id="replay-title">Replay of turn {props.turn}</span>
      </PageTitle>
      <p>
        <Link to={paths.session(props.sessionId)}>← Session {props.sessionId}</Link>
      </p>
      <ErrorNotice error={replay.error} title="The request cannot be rebuilt" />
      {replay.loading ? <Loading what="the request" /> : null}
      {data === undefined ? null : (
        <>
          <dl className="figures" aria-label="Replay summary">
            <Figure label="Verified">
              {data.verified ? <span className="badge ok">byte for byte</span> : <span className="badge bad">hash mismatch</span>}
            </Figure>
            <Figure label="Model">
              {data.provider}:{data.model}
            </Figure>
            <Figure label="Attempts">{data.attempts}</Figure>
            <Figure label="Request hash">
              <span className="mono small">{data.requestHash}</span>
            </Figure>
          </dl>
          <Counterfactual sessionId={props.sessionId} turn={props.turn} />
          <section aria-labelledby="request-title">
            <h2 id="request-title">Request</h2>
            {data.request.system === undefined ? null : (
              <details open>
                <summary>System prompt</summary>
                <pre className="block">{data.request.system}</pre>
              </details>
            )}
            <details>
              <summary>Tools ({data.request.tools.length})</summary>
              <ul>
                {data.request.tools.map((tool) => (
                  <li key={tool.name}>
                    <strong>{tool.name}</strong>: {tool.description}
                  </li>
                ))}
              </ul>
            </details>
            <h3>Messages ({data.request.messages.length})</h3>
            <Messages messages={data.request.messages} label="Messages of the request" />
          </section>
          <section aria-labelledby="response-title">
            <h2 id="response-title">Journaled answer</h2>
            {data.response === undefined || data.response === null ? (
              <p className="muted">The session stopped before the answer to this request arrived.</p>
            ) : (
              <>
                <p className="muted">
                  {data.response.model}, stop {data.response.stopReason}, {formatCost(data.response.costUsd)}, {formatDuration(data.response.latencyMs)}
                </p>
                {data.response.content.map((block, index) => (
                  <ContentBlock key={index} block={block} />
                ))}
              </>
            )}
          </section>
        </>
      )}
    </section>
  );
}

/** A context strategy of the counterfactual; `window` takes its size from its own field. */
type Strategy = '' | 'elide-tool-results' | 'no-tools' | 'window';

/** Sends the turn's exact request again with one thing changed, and shows how the model's answer differs. */
function Counterfactual(props: { readonly sessionId: string; readonly turn: number }) {
  const { client, me } = useApi();
  const [model, setModel] = useState('');
  const [system, setSystem] = useState('');
  const [strategy, setStrategy] = useState<Strategy>('');
  const [windowSize, setWindowSize] = useState('4');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<CounterfactualView | null>(null);
  const [error, setError] = useState<unknown>(null);
  if (!me.roles.includes('run') && !me.roles.includes('admin')) return null;

  const run = (): void => {
    const body: CounterfactualBody = {
      ...(model.trim() === '' ? {} : { model: model.trim() }),
      ...(system.trim() === '' ? {} : { system }),
      ...(strategy === '' ? {} : { strategy: strategy === 'window' ? `window:${windowSize}` : strategy }),
    };
    setBusy(true);
    setError(null);
    client.counterfactual(props.sessionId, props.turn, body).then(
      (answer) => {
        setResult(answer);
        setBusy(false);
      },
      (thrown: unknown) => {
        setError(thrown);
        setBusy(false);
      },
    );
  };

  return (
    <section aria-labelledby="counterfactual-title" className="card">
      <h2 id="counterfactual-title">Counterfactual</h2>
      <p className="muted">Calls the model once more with the change; no tool runs and nothing is written to the journal.</p>
      <form
        className="stack"
        onSubmit={(event) => {
          event.preventDefault();
          run();
        }}
      >
        <label htmlFor="cf-model">Model, as anthropic:&lt;id&gt; or openai:&lt;id&gt; (blank: the session’s own)</label>
        <input id="cf-model" value={model} placeholder="anthropic:claude-sonnet-4-6" onChange={(event) => setModel(event.target.value)} />
        <label htmlFor="cf-system">System prompt (blank: unchanged)</label>
        <textarea id="cf-system" rows={3} value={system} onChange={(event) => setSystem(event.target.value)} />
        <label htmlFor="cf-strategy">Context strategy</label>
        <select id="cf-strategy" value={strategy} onChange={(event) => setStrategy(event.target.value as Strategy)}>
          <option value="">unchanged</option>
          <option value="elide-tool-results">elide tool results</option>
          <option value="no-tools">offer no tools</option>
          <option value="window">keep the last N messages</option>
        </select>
        {strategy === 'window' ? (
          <>
            <label htmlFor="cf-window">Messages to keep</label>
            <input id="cf-window" type="number" min={1} value={windowSize} onChange={(event) => setWindowSize(event.target.value)} />
          </>
        ) : null}
        <div className="actions">
          <button type="submit" className="primary" disabled={busy || (model.trim() === '' && system.trim() === '' && strategy === '')}>
            {busy ? 'Running…' : 'Run counterfactual'}
          </button>
        </div>
      </form>
      <ErrorNotice error={error} title="The counterfactual failed" />
      {result === null ? null : <CounterfactualResult result={result} />}
    </section>
  );
}

function CounterfactualResult(props: { readonly result: CounterfactualView }) {
  const { result } = props;
  return (
    <div className="counterfactual-result" aria-live="polite">
      <h3>Changes sent</h3>
      <ul>
        {result.changes.length === 0 ? <li>none (the same request again)</li> : result.changes.map((change) => <li key={change}>{change}</li>)}
      </ul>
      <h3>How the answer differs</h3>
      {result.differences.length === 0 ? (
        <p>The answer is the same.</p>
      ) : (
        <ul className="differences" aria-label="Differences">
          {result.differences.map((difference, index) => (
            <li key={index} className={difference.startsWith('+') ? 'added' : difference.startsWith('-') ? 'removed' : undefined}>
              <code>{difference}</code>
            </li>
          ))}
        </ul>
      )}
      {result.counterfactual === undefined ? null : (
        <>
          <h3>
            Counterfactual answer <span className="muted">({result.counterfactual.model}, stop {result.counterfactual.stopReason}, {formatCost(result.costUsd ?? null)}, {formatDuration(result.latencyMs)})</span>
          </h3>
          {result.counterfactual.content.map((block, index) => (
            <ContentBlock key={index} block={block} />
          ))}
        </>
      )}
    </div>
  );
}
