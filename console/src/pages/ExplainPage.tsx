import { useApi } from '../api/api-context.tsx';
import { ErrorNotice, Figure, Loading, PageTitle } from '../components/common.tsx';
import { formatPercent, formatTokens } from '../components/format.ts';
import { ContextBar } from '../components/StackedBar.tsx';
import { useResource } from '../hooks/use-resource.ts';
import { Link, paths } from '../router.tsx';

/** A turn's context plan: every segment against the window, and each item with the rule that kept, cut or dropped it. */
export function ExplainPage(props: { readonly sessionId: string; readonly turn: number }) {
  const { client } = useApi();
  const plan = useResource(`explain:${props.sessionId}:${props.turn}`, () => client.explain(props.sessionId, props.turn));
  return (
    <section aria-labelledby="explain-title">
      <PageTitle actions={<TurnNavigation sessionId={props.sessionId} turn={props.turn} />}>
        <span id="explain-title">Context plan of turn {props.turn}</span>
      </PageTitle>
      <p>
        <Link to={paths.session(props.sessionId)}>← Session {props.sessionId}</Link>
      </p>
      <ErrorNotice error={plan.error} title="No context plan" />
      {plan.loading ? <Loading what="the context plan" /> : null}
      {plan.data === undefined ? null : (
        <>
          <dl className="figures" aria-label="Plan summary">
            <Figure label="Model">{plan.data.model}</Figure>
            <Figure label="Window">{formatTokens(plan.data.window)}</Figure>
            <Figure label="Input">{formatTokens(plan.data.total)}</Figure>
            <Figure label="Reserved output">{formatTokens(plan.data.reservedOutput)}</Figure>
            <Figure label="Utilization">{formatPercent(plan.data.utilization)}</Figure>
            <Figure label="Counting">
              {plan.data.tokenCounting} ({plan.data.encoding})
            </Figure>
          </dl>
          <ContextBar plan={plan.data} />
          <table className="data" aria-label="Context items">
            <thead>
              <tr>
                <th scope="col">Segment</th>
                <th scope="col">Item</th>
                <th scope="col">Decision</th>
                <th scope="col" className="number">Tokens</th>
                <th scope="col">Rule</th>
              </tr>
            </thead>
            <tbody>
              {plan.data.segments.flatMap((segment) => [
                <tr key={`segment:${segment.segment}`} className="group">
                  <th scope="row" colSpan={3}>
                    {segment.segment} <span className="muted">({segment.items.length} items)</span>
                  </th>
                  <td className="number">
                    {formatTokens(segment.tokens)} <span className="muted">/ {formatTokens(segment.budget)}</span>
                  </td>
                  <td />
                </tr>,
                ...segment.items.map((item) => (
                  <tr key={`${segment.segment}:${item.id}`}>
                    <td />
                    <td className="mono">
                      {item.id}
                      {item.range === undefined ? '' : ` [${item.range[0]}..${item.range[1]})`}
                    </td>
                    <td>
                      <span className={`badge decision-${item.decision}`}>{item.decision}</span>
                    </td>
                    <td className="number">{item.tokens === item.tokensBefore ? formatTokens(item.tokens) : `${formatTokens(item.tokensBefore)} → ${formatTokens(item.tokens)}`}</td>
                    <td>
                      {item.rule}
                      {item.detail === undefined ? null : <span className="muted"> ({item.detail})</span>}
                    </td>
                  </tr>
                )),
              ])}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

function TurnNavigation(props: { readonly sessionId: string; readonly turn: number }) {
  const { client } = useApi();
  const session = useResource(`session:${props.sessionId}`, () => client.session(props.sessionId));
  const turns = session.data?.turns ?? 0;
  return (
    <>
      {props.turn > 1 ? <Link to={paths.explain(props.sessionId, props.turn - 1)}>Previous turn</Link> : null}
      {props.turn < turns ? <Link to={paths.explain(props.sessionId, props.turn + 1)}>Next turn</Link> : null}
      <Link to={paths.replay(props.sessionId, props.turn)}>Replay this turn</Link>
    </>
  );
}
