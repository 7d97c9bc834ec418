import type { PropertyResult } from '../check-types.ts';
import { pathTo, PropertyRecorder } from '../property-context.ts';
import type { PropertyContext } from '../property-context.ts';
import type { Delegation, SystemGraph } from '../system-graph.ts';

const title = "Budgets of children fit inside their parents': no child is given more tokens, cost or time than its parent has.";

type BudgetKind = 'tokens' | 'cost' | 'time' | 'inputTokens' | 'outputTokens';
const kinds: readonly BudgetKind[] = ['tokens', 'cost', 'time', 'inputTokens', 'outputTokens'];
const kindNames: Record<BudgetKind, string> = { tokens: 'tokens', cost: 'cost (USD)', time: 'time (ms)', inputTokens: 'input tokens', outputTokens: 'output tokens' };

/** A bound of one kind: the root runs' budget, an agent's own limit, or an edge's slice; it holds for every descendant. */
interface Bound {
  readonly value: number;
  readonly source: string;
  readonly kind: 'root' | 'agent' | 'edge';
  /** The agent whose limit it is, or the edge that gives the slice. */
  readonly node: number;
  readonly edge: Delegation | null;
}

/** The tightest bound over a node and how the search that set it got there (to print the counterexample path). */
interface Tightest {
  readonly bound: Bound;
  readonly via: Delegation | null;
}

function finite(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : null;
}

function agentLimit(graph: SystemGraph, node: number, kind: BudgetKind): number | null {
  const limits = graph.nodes[node]?.agent?.limits;
  if (limits === undefined) return null;
  if (kind === 'cost') return finite(limits.maxCostUsd);
  if (kind === 'time') return finite(limits.deadlineMs);
  if (kind === 'inputTokens') return finite(limits.maxInputTokens);
  if (kind === 'outputTokens') return finite(limits.maxOutputTokens);
  return null;
}

function edgeSlice(edge: Delegation, kind: BudgetKind): number | null {
  if (kind === 'tokens') return finite(edge.slice?.tokens);
  if (kind === 'cost') return finite(edge.slice?.costUsd);
  if (kind === 'time') return finite(edge.timeMs);
  return null;
}

function rootLimit(context: PropertyContext, kind: BudgetKind): number | null {
  const budget = context.system.budget;
  if (kind === 'tokens') return finite(budget?.tokens);
  if (kind === 'cost') return finite(budget?.costUsd);
  if (kind === 'time') return finite(budget?.timeMs);
  return null;
}

function boundsOf(context: PropertyContext, kind: BudgetKind): Bound[] {
  const { graph } = context;
  const bounds: Bound[] = [];
  const root = rootLimit(context, kind);
  if (root !== null) bounds.push({ value: root, source: "the root runs' budget", kind: 'root', node: -1, edge: null });
  for (const node of graph.nodes) {
    const value = agentLimit(graph, node.index, kind);
    if (value !== null) bounds.push({ value, source: `the ${kind === 'time' ? 'deadline' : 'limit'} of agent ${node.label}`, kind: 'agent', node: node.index, edge: null });
  }
  for (const edge of graph.edges) {
    const value = edgeSlice(edge, kind);
    if (value !== null) bounds.push({ value, source: `the budget ${graph.nodes[edge.from]?.label} → ${edge.label} gives`, kind: 'edge', node: edge.to, edge });
  }
  return bounds.sort((a, b) => a.value - b.value);
}

/**
 * The tightest bound of one kind over every node: the least bound among everything on any path from an entry point
 * to it. Bounds are taken smallest first, and each marks the descendants no smaller one marked: every node is marked
 * once, so the whole pass is linear in the graph per bound at worst and usually far less.
 */
function tightestBounds(context: PropertyContext, kind: BudgetKind): (Tightest | null)[] {
  const { graph } = context;
  const tightest: (Tightest | null)[] = graph.nodes.map(() => null);
  for (const bound of boundsOf(context, kind)) {
    const starts = bound.kind === 'root' ? graph.roots : [bound.node];
    const queue: number[] = [];
    for (const start of starts) {
      if (tightest[start] !== null) continue;
      tightest[start] = { bound, via: null };
      queue.push(start);
    }
    for (let head = 0; head < queue.length; head += 1) {
      for (const edge of graph.outgoing[queue[head] as number] ?? []) {
        if (tightest[edge.to] !== null) continue;
        tightest[edge.to] = { bound, via: edge };
        queue.push(edge.to);
      }
    }
  }
  return tightest;
}

/** What a delegation gives its child of one kind: the edge's slice and the child's own limit. */
function childClaims(graph: SystemGraph, edge: Delegation, kind: BudgetKind): { readonly value: number; readonly what: string }[] {
  const claims: { value: number; what: string }[] = [];
  const slice = edgeSlice(edge, kind);
  if (slice !== null) claims.push({ value: slice, what: 'the slice it gives' });
  const own = agentLimit(graph, edge.to, kind);
  if (own !== null) claims.push({ value: own, what: `the child's own ${kind === 'time' ? 'deadline' : 'limit'}` });
  return claims;
}

/** The path along which the parent's tightest bound holds: to where the bound is set, then down to the parent. */
function boundPath(context: PropertyContext, tightest: readonly (Tightest | null)[], parent: number): string[] {
  const chain: Delegation[] = [];
  let node = parent;
  let entry = tightest[node];
  while (entry?.via != null && chain.length < context.graph.nodes.length) {
    chain.push(entry.via);
    node = entry.via.from;
    entry = tightest[node];
  }
  const bound = tightest[parent]?.bound;
  const head = bound?.edge == null ? pathTo(context, node) : [...pathTo(context, bound.edge.from), bound.edge.label];
  return [...head, ...chain.reverse().map((edge) => edge.label)];
}

export function checkBudgets(context: PropertyContext): PropertyResult {
  const recorder = new PropertyRecorder('budgets', title);
  const { graph } = context;
  let claimsSeen = 0;
  for (const kind of kinds) {
    const tightest = tightestBounds(context, kind);
    for (const edge of graph.edges) {
      const parent = tightest[edge.from] ?? null;
      const subject = `${graph.nodes[edge.from]?.label} → ${edge.label}`;
      for (const claim of childClaims(graph, edge, kind)) {
        claimsSeen += 1;
        if (parent === null) {
          recorder.fact(subject, `${kindNames[kind]}: ${claim.value} (${claim.what}); nothing above ${graph.nodes[edge.from]?.label} bounds ${kindNames[kind]}, so it fits`);
          continue;
        }
        if (claim.value <= parent.bound.value) {
          recorder.fact(subject, `${kindNames[kind]}: ${claim.value} (${claim.what}) ≤ ${parent.bound.value}, ${parent.bound.source}`);
          continue;
        }
        recorder.violation(
          [...boundPath(context, tightest, edge.from), edge.label],
          `${edge.label}: ${kindNames[kind]} ${claim.value} (${claim.what}) is more than its parent ${graph.nodes[edge.from]?.label} has: ${parent.bound.value}, ${parent.bound.source}. Give the child a smaller budget or raise the parent's.`,
        );
      }
    }
  }
  if (claimsSeen === 0) recorder.fact('system', 'no child declares a budget or limit of its own: every child draws on what its parents have left');
  return recorder.result();
}
