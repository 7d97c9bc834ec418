// Summarises a V8 heap snapshot (.heapsnapshot, as bench/measure.ts writes with BENCH_HEAP_SNAPSHOT) by constructor:
// count, self size and retained size (the size of everything that would be freed with the object, from the
// dominator tree), and for chosen constructors who holds them (the retainer's constructor and the edge's name).
//
//   node --max-old-space-size=8192 --import tsx bench/heap-summary.ts <file.heapsnapshot> [--top 40] [--retainers Name,Name] [--json]
//
// Retained size per constructor adds up the retained sizes of that constructor's objects whose dominator chain holds
// no other object of the same constructor, so a linked list is not counted once per node. Weak edges do not retain.
import { readFileSync } from 'node:fs';

interface Snapshot {
  readonly snapshot: {
    readonly meta: {
      readonly node_fields: readonly string[];
      readonly node_types: readonly [readonly string[], ...unknown[]];
      readonly edge_fields: readonly string[];
      readonly edge_types: readonly [readonly string[], ...unknown[]];
    };
    readonly node_count: number;
  };
  readonly nodes: readonly number[];
  readonly edges: readonly number[];
  readonly strings: readonly string[];
}

interface Graph {
  readonly count: number;
  readonly label: readonly string[];
  readonly selfSize: Float64Array;
  readonly firstEdge: Uint32Array;
  readonly edgeTarget: Uint32Array;
  readonly edgeName: readonly string[];
  readonly edgeWeak: Uint8Array;
}

function labelOf(type: string, name: string): string {
  if (type === 'object' || type === 'native') return name.length > 80 ? `${name.slice(0, 77)}...` : name;
  if (type === 'closure') return '(closure)';
  if (type === 'string' || type === 'concatenated string' || type === 'sliced string') return '(string)';
  if (type === 'array') return `(array ${name})`;
  return `(${type})`;
}

function buildGraph(data: Snapshot): Graph {
  const { meta } = data.snapshot;
  const nodeWidth = meta.node_fields.length;
  const edgeWidth = meta.edge_fields.length;
  const [nodeType, nodeName, nodeSelf, nodeEdges] = ['type', 'name', 'self_size', 'edge_count'].map((field) => meta.node_fields.indexOf(field)) as [number, number, number, number];
  const [edgeType, edgeNameField, edgeTo] = ['type', 'name_or_index', 'to_node'].map((field) => meta.edge_fields.indexOf(field)) as [number, number, number];
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const count = data.nodes.length / nodeWidth;
  const label: string[] = new Array<string>(count);
  const selfSize = new Float64Array(count);
  const firstEdge = new Uint32Array(count + 1);
  const edgeTotal = data.edges.length / edgeWidth;
  const edgeTarget = new Uint32Array(edgeTotal);
  const edgeName: string[] = new Array<string>(edgeTotal);
  const edgeWeak = new Uint8Array(edgeTotal);
  let edge = 0;
  for (let node = 0; node < count; node += 1) {
    const base = node * nodeWidth;
    const type = nodeTypes[data.nodes[base + nodeType] ?? 0] ?? '?';
    label[node] = labelOf(type, data.strings[data.nodes[base + nodeName] ?? 0] ?? '');
    selfSize[node] = data.nodes[base + nodeSelf] ?? 0;
    firstEdge[node] = edge;
    const edges = data.nodes[base + nodeEdges] ?? 0;
    for (let index = 0; index < edges; index += 1, edge += 1) {
      const edgeBase = edge * edgeWidth;
      const kind = edgeTypes[data.edges[edgeBase + edgeType] ?? 0] ?? '?';
      const nameOrIndex = data.edges[edgeBase + edgeNameField] ?? 0;
      edgeTarget[edge] = (data.edges[edgeBase + edgeTo] ?? 0) / nodeWidth;
      edgeName[edge] = kind === 'element' || kind === 'hidden' ? `[${nameOrIndex}]` : (data.strings[nameOrIndex] ?? '?');
      edgeWeak[edge] = kind === 'weak' || kind === 'shortcut' ? 1 : 0;
    }
  }
  firstEdge[count] = edge;
  return { count, label, selfSize, firstEdge, edgeTarget, edgeName, edgeWeak };
}

/** Immediate dominators from node 0 (the snapshot's root): Cooper, Harvey and Kennedy's iteration over reverse postorder. */
function dominators(graph: Graph): Int32Array {
  const { count, firstEdge, edgeTarget, edgeWeak } = graph;
  const order = new Int32Array(count).fill(-1);
  const postorder: number[] = [];
  const stack: number[] = [0];
  const cursor = new Uint32Array(count);
  order[0] = -2;
  cursor[0] = firstEdge[0] ?? 0;
  while (stack.length > 0) {
    const node = stack[stack.length - 1] ?? 0;
    const end = firstEdge[node + 1] ?? 0;
    let pushed = false;
    while ((cursor[node] ?? 0) < end) {
      const edge = cursor[node] ?? 0;
      cursor[node] = edge + 1;
      const target = edgeTarget[edge] ?? 0;
      if (edgeWeak[edge] === 1 || order[target] !== -1) continue;
      order[target] = -2;
      cursor[target] = firstEdge[target] ?? 0;
      stack.push(target);
      pushed = true;
      break;
    }
    if (!pushed) {
      stack.pop();
      order[node] = postorder.length;
      postorder.push(node);
    }
  }
  const predecessors: number[][] = Array.from({ length: count }, () => []);
  for (let node = 0; node < count; node += 1) {
    if (order[node] === -1) continue;
    for (let edge = firstEdge[node] ?? 0; edge < (firstEdge[node + 1] ?? 0); edge += 1) {
      const target = edgeTarget[edge] ?? 0;
      if (edgeWeak[edge] === 0 && order[target] !== -1) predecessors[target]?.push(node);
    }
  }
  const dominator = new Int32Array(count).fill(-1);
  dominator[0] = 0;
  const intersect = (first: number, second: number): number => {
    let left = first;
    let right = second;
    while (left !== right) {
      while ((order[left] ?? 0) < (order[right] ?? 0)) left = dominator[left] ?? 0;
      while ((order[right] ?? 0) < (order[left] ?? 0)) right = dominator[right] ?? 0;
    }
    return left;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (let index = postorder.length - 2; index >= 0; index -= 1) {
      const node = postorder[index] ?? 0;
      let candidate = -1;
      for (const predecessor of predecessors[node] ?? []) {
        if (dominator[predecessor] === -1) continue;
        candidate = candidate === -1 ? predecessor : intersect(predecessor, candidate);
      }
      if (candidate !== -1 && dominator[node] !== candidate) {
        dominator[node] = candidate;
        changed = true;
      }
    }
  }
  return dominator;
}

function retainedSizes(graph: Graph, dominator: Int32Array): Float64Array {
  const retained = Float64Array.from(graph.selfSize);
  // Children before parents: sort reachable nodes by depth in the dominator tree, deepest first.
  const depth = new Int32Array(graph.count).fill(-1);
  depth[0] = 0;
  const depthOf = (node: number): number => {
    const chain: number[] = [];
    let current = node;
    while ((depth[current] ?? -1) === -1) {
      chain.push(current);
      current = dominator[current] ?? 0;
    }
    let value = depth[current] ?? 0;
    for (let index = chain.length - 1; index >= 0; index -= 1) depth[chain[index] ?? 0] = ++value;
    return depth[node] ?? 0;
  };
  const reachable: number[] = [];
  for (let node = 1; node < graph.count; node += 1) {
    if (dominator[node] !== -1) {
      depthOf(node);
      reachable.push(node);
    }
  }
  reachable.sort((left, right) => (depth[right] ?? 0) - (depth[left] ?? 0));
  for (const node of reachable) {
    const parent = dominator[node] ?? 0;
    retained[parent] = (retained[parent] ?? 0) + (retained[node] ?? 0);
  }
  return retained;
}

interface Row {
  label: string;
  count: number;
  selfMB: number;
  retainedMB: number;
}

function summarize(graph: Graph, dominator: Int32Array, retained: Float64Array): Row[] {
  const rows = new Map<string, Row>();
  for (let node = 1; node < graph.count; node += 1) {
    if (dominator[node] === -1) continue;
    const label = graph.label[node] ?? '?';
    const row = rows.get(label) ?? { label, count: 0, selfMB: 0, retainedMB: 0 };
    row.count += 1;
    row.selfMB += (graph.selfSize[node] ?? 0) / 2 ** 20;
    let owner = dominator[node] ?? 0;
    while (owner !== 0 && graph.label[owner] !== label) owner = dominator[owner] ?? 0;
    if (owner === 0) row.retainedMB += (retained[node] ?? 0) / 2 ** 20;
    rows.set(label, row);
  }
  return [...rows.values()];
}

function retainersOf(graph: Graph, names: ReadonlySet<string>): Map<string, Map<string, number>> {
  const result = new Map<string, Map<string, number>>();
  for (let node = 0; node < graph.count; node += 1) {
    for (let edge = graph.firstEdge[node] ?? 0; edge < (graph.firstEdge[node + 1] ?? 0); edge += 1) {
      const target = graph.edgeTarget[edge] ?? 0;
      const targetLabel = graph.label[target] ?? '?';
      if (!names.has(targetLabel) || graph.edgeWeak[edge] === 1) continue;
      const key = `${graph.label[node] ?? '?'} .${graph.edgeName[edge] ?? '?'}`;
      const counts = result.get(targetLabel) ?? new Map<string, number>();
      counts.set(key, (counts.get(key) ?? 0) + 1);
      result.set(targetLabel, counts);
    }
  }
  return result;
}

function main(): void {
  const args = process.argv.slice(2);
  const file = args[0];
  if (file === undefined) {
    console.error('usage: node --import tsx bench/heap-summary.ts <file.heapsnapshot> [--top 40] [--retainers Name,Name] [--json]');
    process.exit(2);
  }
  const option = (flag: string): string | undefined => {
    const index = args.indexOf(flag);
    return index === -1 ? undefined : args[index + 1];
  };
  const top = Number(option('--top') ?? 40);
  const graph = buildGraph(JSON.parse(readFileSync(file, 'utf8')) as Snapshot);
  const dominator = dominators(graph);
  const retained = retainedSizes(graph, dominator);
  const rows = summarize(graph, dominator, retained);
  const totalMB = rows.reduce((sum, row) => sum + row.selfMB, 0);
  if (args.includes('--json')) {
    console.log(JSON.stringify({ totalMB, rows: rows.sort((left, right) => right.retainedMB - left.retainedMB).slice(0, top) }));
    return;
  }
  const print = (title: string, sorted: readonly Row[]): void => {
    console.log(`\n${title}\n| constructor | count | self MB | retained MB |\n|---|---:|---:|---:|`);
    for (const row of sorted.slice(0, top)) console.log(`| ${row.label.replaceAll('|', '\\|')} | ${row.count} | ${row.selfMB.toFixed(2)} | ${row.retainedMB.toFixed(2)} |`);
  };
  console.log(`${file}: ${graph.count} nodes, ${totalMB.toFixed(1)} MB reachable (self sizes)`);
  print('By self size', [...rows].sort((left, right) => right.selfMB - left.selfMB));
  print('By retained size', [...rows].sort((left, right) => right.retainedMB - left.retainedMB));
  const names = (option('--retainers') ?? '').split(',').filter((name) => name !== '');
  for (const [name, counts] of retainersOf(graph, new Set(names))) {
    console.log(`\nRetainers of ${name}:`);
    for (const [key, value] of [...counts.entries()].sort((left, right) => right[1] - left[1]).slice(0, 15)) console.log(`  ${value}\t${key}`);
  }
}

main();
