import type { ExplainPlan } from '../api/types.ts';
import { formatPercent, formatTokens } from './format.ts';

const palette = ['#2563eb', '#16a34a', '#d97706', '#9333ea', '#0891b2', '#db2777', '#65a30d', '#dc2626'];

/**
 * A turn's context against the model's window: one block per segment, in request order, then the output the
 * planner reserved, then what is left free. Widths are shares of the window.
 */
export function ContextBar(props: { readonly plan: ExplainPlan }) {
  const { plan } = props;
  const window = Math.max(plan.window, 1);
  // The plan lists the reserved output as a segment of its own (`output`); it is drawn hatched, after the input.
  const inputSegments = plan.segments.filter((segment) => segment.segment !== 'output');
  const used = inputSegments.reduce((sum, segment) => sum + segment.tokens, 0);
  const free = Math.max(window - used - plan.reservedOutput, 0);
  const blocks = [
    ...inputSegments.map((segment, index) => ({ key: segment.segment, label: segment.segment, tokens: segment.tokens, className: 'segment', color: palette[index % palette.length] ?? '#2563eb' })),
    { key: 'reserved output', label: 'reserved output', tokens: plan.reservedOutput, className: 'reserved', color: '#94a3b8' },
    { key: 'free', label: 'free', tokens: free, className: 'free', color: 'transparent' },
  ];
  return (
    <figure className="context-bar" aria-labelledby="context-bar-title">
      <figcaption id="context-bar-title">
        {formatTokens(plan.total)} input tokens of a {formatTokens(plan.window)}-token window ({formatPercent(plan.utilization)})
        {plan.warning ? <strong className="warning"> — over the warning threshold</strong> : null}
        {plan.compaction ? <strong className="warning"> — history compacted</strong> : null}
      </figcaption>
      <div className="stacked" role="list" aria-label="Context segments against the window">
        {blocks.map((block) =>
          block.tokens <= 0 ? null : (
            <div
              key={block.key}
              role="listitem"
              className={`stack-block ${block.className}`}
              style={{ width: `${(block.tokens / window) * 100}%`, background: block.color }}
              title={`${block.label}: ${formatTokens(block.tokens)} tokens (${formatPercent(block.tokens / window)})`}
              aria-label={`${block.label}: ${formatTokens(block.tokens)} tokens, ${formatPercent(block.tokens / window)} of the window`}
            />
          ),
        )}
      </div>
      <ul className="legend">
        {blocks.map((block) => (
          <li key={block.key}>
            <span className={`swatch ${block.className}`} style={{ background: block.color }} aria-hidden="true" />
            {block.label} <span className="muted">{formatTokens(block.tokens)}</span>
          </li>
        ))}
      </ul>
    </figure>
  );
}
