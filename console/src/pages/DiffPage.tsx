import { useState } from 'react';
import { useApi } from '../api/api-context.tsx';
import type { DiffLine, DiffSegment } from '../api/types.ts';
import { ErrorNotice, Loading, PageTitle } from '../components/common.tsx';
import { useResource } from '../hooks/use-resource.ts';
import { navigate, paths } from '../router.tsx';

/** What one model call saw that the other did not: two turns' requests, segment by segment. */
export function DiffPage(props: { readonly a: string; readonly b: string }) {
  const { client } = useApi();
  const ready = props.a !== '' && props.b !== '';
  const diff = useResource(ready ? `diff:${props.a}:${props.b}` : null, () => client.diff(props.a, props.b));
  return (
    <section aria-labelledby="diff-title">
      <PageTitle>
        <span id="diff-title">Context diff</span>
      </PageTitle>
      <DiffForm key={`${props.a}|${props.b}`} a={props.a} b={props.b} />
      <ErrorNotice error={diff.error} title="Cannot compare" />
      {diff.loading ? <Loading what="the diff" /> : null}
      {diff.data === undefined ? null : (
        <>
          <p aria-live="polite" className="diff-counts">
            {diff.data.identical ? (
              <strong>The two requests are identical.</strong>
            ) : (
              <>
                <strong>{diff.data.counts.changed}</strong> changed, <strong>{diff.data.counts.onlyA}</strong> only in A, <strong>{diff.data.counts.onlyB}</strong> only in B, {diff.data.counts.same} the same.
              </>
            )}
          </p>
          <div className="diff-segments">
            {diff.data.segments
              .filter((segment) => segment.status !== 'same')
              .map((segment) => (
                <SegmentView key={segment.key} segment={segment} />
              ))}
          </div>
        </>
      )}
    </section>
  );
}

const statusWords: Record<DiffSegment['status'], string> = { same: 'same', changed: 'changed', 'only-a': 'only in A', 'only-b': 'only in B' };

function SegmentView(props: { readonly segment: DiffSegment }) {
  const { segment } = props;
  const lines = segment.lines.map(toLine);
  return (
    <article className={`card diff-segment status-${segment.status}`} aria-label={`${segment.title}: ${statusWords[segment.status]}`}>
      <h3>
        {segment.title} <span className={`badge status-${segment.status}`}>{statusWords[segment.status]}</span>
      </h3>
      {segment.notes.length === 0 ? null : (
        <ul>
          {segment.notes.map((note) => (
            <li key={note}>{note}</li>
          ))}
        </ul>
      )}
      {lines.length === 0 ? null : (
        <pre className="diff-lines">
          {lines.map((line, index) => (
            <span key={index} className={line.op === '+' ? 'added' : line.op === '-' ? 'removed' : 'context'}>
              {line.op} {line.text}
              {'\n'}
            </span>
          ))}
        </pre>
      )}
    </article>
  );
}

function toLine(line: string | DiffLine): DiffLine {
  if (typeof line !== 'string') return line;
  const op = line[0];
  return op === '+' || op === '-' ? { op, text: line.slice(1) } : { op: ' ', text: line.startsWith(' ') ? line.slice(1) : line };
}

/** `session` or `session:turn` on each side; a side without a turn is that session's last model request. */
function DiffForm(props: { readonly a: string; readonly b: string }) {
  const [a, setA] = useState(props.a);
  const [b, setB] = useState(props.b);
  return (
    <form
      className="filters"
      aria-label="Choose the two turns"
      onSubmit={(event) => {
        event.preventDefault();
        navigate(paths.diff(a.trim(), b.trim()));
      }}
    >
      <label>
        A (session:turn)
        <input value={a} onChange={(event) => setA(event.target.value)} required />
      </label>
      <label>
        B (session:turn)
        <input value={b} onChange={(event) => setB(event.target.value)} required />
      </label>
      <button type="submit">Compare</button>
    </form>
  );
}
