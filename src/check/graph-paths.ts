import type { Delegation, SystemGraph } from './system-graph.ts';

/** Which nodes and edges a search may use; both default to all. */
export interface GraphFilter {
  readonly node?: (index: number) => boolean;
  readonly edge?: (edge: Delegation) => boolean;
}

/** A breadth-first search tree: the edge each reached node was first reached by (null for a start node). */
export interface SearchTree {
  readonly reached: readonly boolean[];
  readonly via: readonly (Delegation | null)[];
  /** Edges from the nearest start; unreached nodes have Infinity. */
  readonly distance: readonly number[];
}

/** Breadth first from `starts` (all at distance 0), so every reached node gets a shortest path. Linear in the graph. */
export function searchFrom(graph: SystemGraph, starts: readonly number[], filter: GraphFilter = {}): SearchTree {
  const reached = graph.nodes.map(() => false);
  const via: (Delegation | null)[] = graph.nodes.map(() => null);
  const distance: number[] = graph.nodes.map(() => Number.POSITIVE_INFINITY);
  const allowNode = filter.node ?? (() => true);
  const allowEdge = filter.edge ?? (() => true);
  const queue: number[] = [];
  for (const start of starts) {
    if (reached[start] === true || !allowNode(start)) continue;
    reached[start] = true;
    distance[start] = 0;
    queue.push(start);
  }
  for (let head = 0; head < queue.length; head += 1) {
    const current = queue[head] as number;
    for (const edge of graph.outgoing[current] ?? []) {
      if (reached[edge.to] === true || !allowEdge(edge) || !allowNode(edge.to)) continue;
      reached[edge.to] = true;
      via[edge.to] = edge;
      distance[edge.to] = (distance[current] as number) + 1;
      queue.push(edge.to);
    }
  }
  return { reached, via, distance };
}

/** The edges from the search's start to `node`, in order; empty when `node` is a start (or was not reached). */
export function edgesTo(tree: SearchTree, node: number): Delegation[] {
  const edges: Delegation[] = [];
  let current = tree.via[node] ?? null;
  // A search tree has no cycles; the bound only protects against a tree built by hand.
  while (current !== null && edges.length < tree.via.length) {
    edges.push(current);
    current = tree.via[current.from] ?? null;
  }
  return edges.reverse();
}

/** How a path prints: the node it starts at, then each edge's label. */
export function pathLabels(graph: SystemGraph, start: number, edges: readonly Delegation[]): string[] {
  return [graph.nodes[start]?.label ?? String(start), ...edges.map((edge) => edge.label)];
}

/** The printed shortest path from an entry point to `node` in a search from the roots. */
export function labelledPathTo(graph: SystemGraph, tree: SearchTree, node: number): string[] {
  const edges = edgesTo(tree, node);
  return pathLabels(graph, edges[0]?.from ?? node, edges);
}

/**
 * Strongly connected components that contain a cycle (two or more nodes, or one with an edge to itself), among the
 * nodes and edges the filter allows. Tarjan's algorithm with an explicit stack, so a deep graph cannot overflow.
 */
export function cyclicComponents(graph: SystemGraph, filter: GraphFilter = {}): number[][] {
  const allowNode = filter.node ?? (() => true);
  const allowEdge = (edge: Delegation): boolean => (filter.edge ?? (() => true))(edge) && allowNode(edge.to);
  const order: number[] = graph.nodes.map(() => -1);
  const low: number[] = graph.nodes.map(() => 0);
  const onStack: boolean[] = graph.nodes.map(() => false);
  const stack: number[] = [];
  const components: number[][] = [];
  let counter = 0;
  for (const root of graph.nodes.map((node) => node.index)) {
    if (order[root] !== -1 || !allowNode(root)) continue;
    const frames: { node: number; next: number }[] = [{ node: root, next: 0 }];
    order[root] = low[root] = counter++;
    stack.push(root);
    onStack[root] = true;
    while (frames.length > 0) {
      const frame = frames[frames.length - 1] as { node: number; next: number };
      const out = graph.outgoing[frame.node] ?? [];
      if (frame.next < out.length) {
        const edge = out[frame.next++] as Delegation;
        if (!allowEdge(edge)) continue;
        if (order[edge.to] === -1) {
          order[edge.to] = low[edge.to] = counter++;
          stack.push(edge.to);
          onStack[edge.to] = true;
          frames.push({ node: edge.to, next: 0 });
        } else if (onStack[edge.to] === true) {
          low[frame.node] = Math.min(low[frame.node] as number, order[edge.to] as number);
        }
        continue;
      }
      frames.pop();
      const parent = frames[frames.length - 1];
      if (parent !== undefined) low[parent.node] = Math.min(low[parent.node] as number, low[frame.node] as number);
      if (low[frame.node] !== order[frame.node]) continue;
      const component: number[] = [];
      let member: number;
      do {
        member = stack.pop() as number;
        onStack[member] = false;
        component.push(member);
      } while (member !== frame.node);
      const selfLoop = component.length === 1 && out.some((edge) => edge.to === frame.node && allowEdge(edge));
      if (component.length > 1 || selfLoop) components.push(component.sort((a, b) => a - b));
    }
  }
  return components;
}

/** A cycle through `node` using only the allowed nodes and edges, as its edges; empty when there is none. */
export function cycleThrough(graph: SystemGraph, node: number, filter: GraphFilter): Delegation[] {
  const starts = (graph.outgoing[node] ?? []).filter((edge) => (filter.edge ?? (() => true))(edge) && (filter.node ?? (() => true))(edge.to));
  for (const first of starts) {
    if (first.to === node) return [first];
  }
  const tree = searchFrom(graph, starts.map((edge) => edge.to), filter);
  for (const edge of graph.edges) {
    if (edge.to !== node || !tree.reached[edge.from] || !(filter.edge ?? (() => true))(edge)) continue;
    const inner = edgesTo(tree, edge.from);
    const entry = starts.find((start) => start.to === (inner[0]?.from ?? edge.from));
    if (entry !== undefined) return [entry, ...inner, edge];
  }
  return [];
}
