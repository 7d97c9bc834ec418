import type { PropertyResult } from '../check-types.ts';
import { pathTo, PropertyRecorder } from '../property-context.ts';
import type { PropertyContext } from '../property-context.ts';

const title = 'No delegation path widens scopes: every child declares only scopes its parent holds.';

function scopeSet(scopes: readonly string[]): string {
  return scopes.length === 0 ? '{}' : `{${[...scopes].sort().join(', ')}}`;
}

/**
 * Each delegation narrows: a child's declared scopes are a subset of its parent's. Checked per edge, which covers
 * every path, since a chain of subsets is a subset. A workflow step's child holds its own scopes, or fewer when the
 * run grants fewer, never more.
 */
export function checkScopes(context: PropertyContext): PropertyResult {
  const recorder = new PropertyRecorder('scopes', title);
  const { graph } = context;
  for (const edge of graph.edges) {
    const parent = graph.nodes[edge.from];
    const child = graph.nodes[edge.to]?.agent;
    if (parent === undefined || child == null) continue;
    const subject = `${parent.label} → ${edge.label}`;
    if (parent.agent === null) {
      recorder.fact(subject, `a workflow step: the child runs with its own scopes ${scopeSet(child.scopes)}, or the fewer the run grants`);
      continue;
    }
    const held = new Set(parent.agent.scopes);
    const widened = child.scopes.filter((scope) => !held.has(scope));
    if (widened.length === 0) {
      recorder.fact(subject, `${scopeSet(child.scopes)} ⊆ ${scopeSet(parent.agent.scopes)}`);
      continue;
    }
    recorder.violation(
      [...pathTo(context, edge.from), edge.label],
      `"${child.name}" declares ${scopeSet(widened)}, which its parent "${parent.agent.name}" (${scopeSet(parent.agent.scopes)}) does not hold: the delegation would widen privileges (the runtime refuses it with tool-denied). Grant the scope to "${parent.agent.name}" or remove it from "${child.name}".`,
    );
  }
  if (graph.edges.length === 0) recorder.fact('system', 'no delegation: every agent runs with the scopes it declares');
  return recorder.result();
}
