import { KeelError } from '../errors/index.ts';
import { subagentOf } from '../loop/index.ts';
import type { AgentDefinition } from '../loop/index.ts';
import type { SessionBudget } from '../spec/events.ts';
import type { ToolDefinition } from '../tools/index.ts';
import type { StepShape, WorkflowStep } from '../workflow/index.ts';
import type { AgentSystem } from './check-types.ts';

/** An agent or a workflow of the system: a node of its delegation graph. */
export interface SystemNode {
  readonly index: number;
  /** The agent's name (numbered when two different agents share one), or `workflow:<name>`. */
  readonly label: string;
  readonly agent: AgentDefinition | null;
  readonly workflow: WorkflowStep<never, unknown> | null;
  /** The agent's tools, its tool sources' included, read once so every property sees the same list. */
  readonly tools: readonly ToolDefinition[];
}

/** One way a node starts another as a child session: a subagent tool (`asTool`, `handoff`) or a workflow's agent step. */
export interface Delegation {
  readonly from: number;
  readonly to: number;
  readonly mode: 'tool' | 'handoff' | 'step' | 'plan-step';
  /** The subagent tool's name, or the agent step's path in the workflow. */
  readonly via: string;
  /** How a path prints this edge: `asTool(researcher)`, `handoff(billing)`, `planStep(analyst)`, `step(report/draft → writer)`. */
  readonly label: string;
  /** The budget slice the edge gives its child (tokens, cost); null when the child draws on what is left. */
  readonly slice: SessionBudget | null;
  /** Wall-clock time the edge gives its child; null when none. */
  readonly timeMs: number | null;
}

export interface SystemGraph {
  readonly nodes: readonly SystemNode[];
  readonly edges: readonly Delegation[];
  /** Edges leaving each node, by node index. */
  readonly outgoing: readonly (readonly Delegation[])[];
  /** The entry points: exported agents and workflows. */
  readonly roots: readonly number[];
  /** Every distinct tool of every agent, with the first agent (by index) that holds it. */
  readonly tools: readonly { readonly tool: ToolDefinition; readonly holder: number }[];
}

/** Walks the system from its entry points: every agent reachable through subagent tools and workflow steps. */
export function buildSystemGraph(system: AgentSystem): SystemGraph {
  const nodes: SystemNode[] = [];
  const edges: Delegation[] = [];
  const byAgent = new Map<AgentDefinition, number>();
  const nameCounts = new Map<string, number>();
  const addAgent = (agent: AgentDefinition): number => {
    const known = byAgent.get(agent);
    if (known !== undefined) return known;
    const seen = (nameCounts.get(agent.name) ?? 0) + 1;
    nameCounts.set(agent.name, seen);
    const index = nodes.length;
    nodes.push({ index, label: seen === 1 ? agent.name : `${agent.name}#${seen}`, agent, workflow: null, tools: toolsOf(agent) });
    byAgent.set(agent, index);
    return index;
  };
  const roots = (system.agents ?? []).map(addAgent);
  // Breadth first over subagent tools; the queue is the node list itself, which grows as agents are found.
  for (let index = 0; index < nodes.length; index += 1) {
    const node = nodes[index];
    if (node === undefined) continue;
    for (const tool of node.tools) {
      const spec = subagentOf(tool);
      if (spec === null) continue;
      const to = addAgent(spec.agent);
      const kind = spec.mode === 'handoff' ? 'handoff' : 'asTool';
      edges.push({ from: index, to, mode: spec.mode === 'handoff' ? 'handoff' : 'tool', via: tool.name, label: `${kind}(${nodes[to]?.label ?? spec.agent.name})`, slice: spec.slice, timeMs: spec.timeMs });
    }
    // A planner's steps run its subagents as child sessions too (a step without one runs the agent itself, unplanned).
    for (const subagent of node.agent?.planner?.subagents ?? []) {
      const to = addAgent(subagent);
      edges.push({ from: index, to, mode: 'plan-step', via: subagent.name, label: `planStep(${nodes[to]?.label ?? subagent.name})`, slice: null, timeMs: null });
    }
  }
  for (const workflow of system.workflows ?? []) {
    const index = nodes.length;
    nodes.push({ index, label: `workflow:${workflow.name}`, agent: null, workflow, tools: [] });
    roots.push(index);
    for (const { path, agentName, hash } of agentSteps(workflow.shape)) {
      const to = resolveStepAgent(byAgent, { workflow: workflow.name, path, agentName, hash });
      edges.push({ from: index, to, mode: 'step', via: path, label: `step(${path} → ${nodes[to]?.label ?? agentName})`, slice: null, timeMs: null });
    }
  }
  const outgoing: Delegation[][] = nodes.map(() => []);
  for (const edge of edges) outgoing[edge.from]?.push(edge);
  return { nodes, edges, outgoing, roots: [...new Set(roots)], tools: distinctTools(nodes) };
}

/** The agent's tools now; a tool source that fails to list them (a server not connected) is named in the error. */
function toolsOf(agent: AgentDefinition): ToolDefinition[] {
  try {
    return [...agent.tools.values()];
  } catch (error) {
    throw new KeelError('invalid-config', `Agent "${agent.name}": listing its tools failed (${error instanceof Error ? error.message : String(error)}). keel check reads the tools a tool source lists when the module is imported; make its list available without a connection, or check the agent without that source.`, { cause: error });
  }
}

function distinctTools(nodes: readonly SystemNode[]): { tool: ToolDefinition; holder: number }[] {
  const seen = new Set<ToolDefinition>();
  const tools: { tool: ToolDefinition; holder: number }[] = [];
  for (const node of nodes) {
    for (const tool of node.tools) {
      if (seen.has(tool)) continue;
      seen.add(tool);
      tools.push({ tool, holder: node.index });
    }
  }
  return tools;
}

interface AgentStepShape {
  readonly path: string;
  readonly agentName: string;
  readonly hash: string;
}

/** The agent steps of a workflow, from its shape (composite steps keep their children in closures, their shapes in view). */
function agentSteps(shape: StepShape): AgentStepShape[] {
  const found: AgentStepShape[] = [];
  const stack: { shape: StepShape; path: string }[] = [{ shape, path: shape.name }];
  while (stack.length > 0) {
    const { shape: current, path } = stack.pop() as { shape: StepShape; path: string };
    if (current.kind === 'agent' && typeof current.detail === 'string') {
      const split = current.detail.lastIndexOf(':');
      found.push({ path, agentName: current.detail.slice(0, split), hash: current.detail.slice(split + 1) });
    }
    for (const child of [...(current.children ?? [])].reverse()) stack.push({ shape: child, path: `${path}/${child.name}` });
  }
  return found;
}

function resolveStepAgent(byAgent: ReadonlyMap<AgentDefinition, number>, step: AgentStepShape & { readonly workflow: string }): number {
  for (const [agent, index] of byAgent) {
    if (agent.name === step.agentName && agent.instructionsHash === step.hash) return index;
  }
  throw new KeelError(
    'invalid-config',
    `Workflow "${step.workflow}" runs agent "${step.agentName}" in step ${step.path}, but the module exports no such agent (with these instructions): export it beside the workflow, for example \`export default [workflow, ${step.agentName}]\`, so its tools and limits can be checked.`,
    { details: { workflow: step.workflow, step: step.path, agent: step.agentName } },
  );
}
