import type { AgentDefinition } from '../../loop/index.ts';
import type { PropertyResult } from '../check-types.ts';
import { cycleThrough, cyclicComponents, edgesTo, pathLabels, searchFrom } from '../graph-paths.ts';
import type { GraphFilter } from '../graph-paths.ts';
import { agentNodes, pathTo, PropertyRecorder } from '../property-context.ts';
import type { PropertyContext } from '../property-context.ts';
import type { Delegation, SystemGraph } from '../system-graph.ts';

const title = 'Every loop is bounded: each agent has max turns, a deadline or a budget, and every delegation cycle is bounded.';

function finite(value: number | null | undefined): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

/** The guards that end one session of the agent, as facts; empty when none does. */
export function sessionGuards(agent: AgentDefinition): string[] {
  const limits = agent.limits;
  return [
    finite(limits.maxTurns) ? `maxTurns ${limits.maxTurns}` : null,
    finite(limits.deadlineMs) ? `deadline ${limits.deadlineMs} ms` : null,
    finite(limits.maxCostUsd) ? `maxCostUsd ${limits.maxCostUsd}` : null,
    finite(limits.maxInputTokens) ? `maxInputTokens ${limits.maxInputTokens}` : null,
    finite(limits.maxOutputTokens) ? `maxOutputTokens ${limits.maxOutputTokens}` : null,
  ].filter((guard): guard is string => guard !== null);
}

/**
 * What bounds a chain of nested child sessions. A session's own turn and cost guards do not: a parent waiting on its
 * child sees the child's spending only when the child ends. A deadline does (every descendant's is at most its
 * ancestors'), and so does a tree budget (a slice charges every ancestor's ledger as it is spent).
 */
function agentBoundsRecursion(agent: AgentDefinition | null): boolean {
  return agent !== null && finite(agent.limits.deadlineMs);
}

function edgeBoundsRecursion(edge: Delegation): boolean {
  return finite(edge.timeMs) || finite(edge.slice?.tokens) || finite(edge.slice?.costUsd);
}

function rootBudget(context: PropertyContext): string | null {
  const budget = context.system.budget;
  if (budget === undefined) return null;
  const parts = [finite(budget.tokens) ? `${budget.tokens} tokens` : null, finite(budget.costUsd) ? `$${budget.costUsd}` : null, finite(budget.timeMs) ? `${budget.timeMs} ms` : null].filter((part) => part !== null);
  return parts.length === 0 ? null : parts.join(', ');
}

export function checkBounded(context: PropertyContext): PropertyResult {
  const recorder = new PropertyRecorder('bounded', title);
  const { graph } = context;
  for (const node of agentNodes(graph)) {
    const guards = sessionGuards(node.agent);
    if (guards.length > 0) recorder.fact(node.label, `one session ends by ${guards.join(', ')}`);
    else recorder.violation(pathTo(context, node.index), `agent "${node.agent.name}" has no max turns, deadline or budget: its loop can run for ever. Give it limits.maxTurns (or a deadline or cost budget).`);
    const planner = node.agent.planner;
    if (planner !== undefined) recorder.fact(node.label, `plans at most ${planner.maxSteps} steps and replans at most ${planner.maxReplans === 1 ? 'once' : `${planner.maxReplans} times`}; each step is a child session of a subagent or of the agent without its planner`);
  }
  for (const node of graph.nodes) {
    if (node.workflow !== null) recorder.fact(node.label, 'its steps form a finite tree (chain, route, parallel, vote); each gate sends a step back at most its retries (10 at most); agent steps are bounded as their agents');
  }
  checkCycles(context, recorder);
  return recorder.result();
}

function checkCycles(context: PropertyContext, recorder: PropertyRecorder): void {
  const { graph } = context;
  const all = cyclicComponents(graph);
  if (all.length === 0) {
    recorder.fact('delegation graph', `no cycle: ${graph.edges.length} delegation${graph.edges.length === 1 ? '' : 's'} among ${graph.nodes.length} agent${graph.nodes.length === 1 ? '' : 's'} and workflow${graph.nodes.length === 1 ? '' : 's'}`);
    return;
  }
  const budget = rootBudget(context);
  if (budget !== null) {
    for (const component of all) recorder.fact(componentName(graph, component), `cycle bounded by the root runs' budget (${budget}), which every session of a tree draws on`);
    return;
  }
  // Sessions reachable without passing a deadline or a budget slice; a cycle among them can recurse without end.
  const unbounded: GraphFilter = { node: (index) => !agentBoundsRecursion(graph.nodes[index]?.agent ?? null), edge: (edge) => !edgeBoundsRecursion(edge) };
  const open = searchFrom(graph, graph.roots, unbounded);
  const restricted: GraphFilter = { node: (index) => open.reached[index] === true && unbounded.node?.(index) === true, edge: unbounded.edge };
  const offending = cyclicComponents(graph, restricted);
  const offendingMembers = new Set(offending.flat());
  for (const component of offending) {
    const entry = component.reduce((best, member) => ((open.distance[member] as number) < (open.distance[best] as number) ? member : best));
    const approach = edgesTo(open, entry);
    const cycle = cycleThrough(graph, entry, restricted);
    recorder.violation(
      pathLabels(graph, approach[0]?.from ?? entry, [...approach, ...cycle]),
      `delegation cycle through ${componentName(graph, component)} with no deadline or budget on it or on the way to it: each pass starts another child session, so the recursion has no bound. Give an agent on the cycle limits.deadlineMs, a delegation on it a budget (asTool/handoff { budget }), or the root runs a budget.`,
    );
  }
  for (const component of all) {
    if (component.some((member) => offendingMembers.has(member))) continue;
    recorder.fact(componentName(graph, component), `cycle bounded: ${cycleBound(graph, component)}`);
  }
}

function componentName(graph: SystemGraph, component: readonly number[]): string {
  return component.map((member) => graph.nodes[member]?.label ?? String(member)).join(' ⇄ ');
}

function cycleBound(graph: SystemGraph, component: readonly number[]): string {
  const members = new Set(component);
  const general = 'every pass around it, or every way to it from an entry point, crosses a deadline or a budget slice, which every descendant inherits';
  const agent = component.map((member) => graph.nodes[member]).find((node) => agentBoundsRecursion(node?.agent ?? null));
  if (agent?.agent != null) return `${general} (on it: the deadline of agent ${agent.label}, ${agent.agent.limits.deadlineMs} ms)`;
  const edge = graph.edges.find((candidate) => members.has(candidate.from) && members.has(candidate.to) && edgeBoundsRecursion(candidate));
  if (edge !== undefined) return `${general} (on it: ${graph.nodes[edge.from]?.label} → ${edge.label} gives ${sliceText(edge)})`;
  return general;
}

export function sliceText(edge: Delegation): string {
  const parts = [finite(edge.slice?.tokens) ? `${edge.slice?.tokens} tokens` : null, finite(edge.slice?.costUsd) ? `$${edge.slice?.costUsd}` : null, finite(edge.timeMs) ? `${edge.timeMs} ms` : null].filter((part) => part !== null);
  return parts.length === 0 ? 'no budget slice' : `a budget slice of ${parts.join(', ')}`;
}
