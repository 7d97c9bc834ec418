import type { ExplainPlan } from './plan-context.ts';
import type { InputCount } from './exact-token-count.ts';

function pct(value: number): string {
  return `${(value * 100).toFixed(1)}%`;
}

/** A database-EXPLAIN-like rendering: the segment tree with tokens and budgets, then one row per item. */
export function renderExplain(plan: ExplainPlan, options: { readonly onlyChanged?: boolean } = {}): string {
  const lines: string[] = [];
  lines.push(`Context plan  model=${plan.model}  turn=${plan.turn}  counting=${plan.tokenCounting} (${plan.encoding})`);
  lines.push(`  window=${plan.window}  input=${plan.total}  reserved-output=${plan.reservedOutput}  utilization=${pct(plan.utilization)}${plan.warning ? '  WARNING' : ''}${plan.compaction ? '  COMPACTED' : ''}`);
  // Plans journaled with a provider count (Anthropic's count-tokens endpoint) say which figure the fit check used.
  const counted = (plan as { readonly inputCount?: InputCount }).inputCount;
  if (counted !== undefined) {
    const extra = counted.fallbackReason === undefined ? '' : `  fallback: ${counted.fallbackReason}`;
    lines.push(`  input-count=${counted.method} ${counted.tokens} (estimate ${counted.estimateTokens}, ${counted.source})${extra}`);
  }
  for (const segment of plan.segments) {
    lines.push(`  -> ${segment.segment.padEnd(12)} tokens=${String(segment.tokens).padStart(7)}  budget=${String(segment.budget).padStart(7)}  items=${segment.items.length}`);
    for (const item of segment.items) {
      if (options.onlyChanged === true && item.decision === 'kept') continue;
      const range = item.range === undefined ? '' : ` [${item.range[0]}..${item.range[1]})`;
      const turn = item.turn === undefined ? '' : ` t${item.turn}`;
      const level = item.level === undefined ? '' : ` L${item.level}`;
      const tokens = item.tokens === item.tokensBefore ? `${item.tokens}` : `${item.tokensBefore}→${item.tokens}`;
      lines.push(`       ${item.decision.padEnd(12)} ${tokens.padStart(13)}  ${item.id}${range}${turn}${level}  rule=${item.rule}${item.detail === undefined ? '' : `  (${item.detail})`}`);
    }
  }
  return lines.join('\n');
}

/** The explain plan as stable JSON (for a blob referenced from `context-assemble`). */
export function explainJson(plan: ExplainPlan): string {
  return JSON.stringify(plan);
}
