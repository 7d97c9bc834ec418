import type { AgentDefinition } from '../loop/index.ts';
import type { AgentSystem, CheckFact, CheckViolation, PropertyId, PropertyResult } from './check-types.ts';
import { labelledPathTo, searchFrom } from './graph-paths.ts';
import type { SearchTree } from './graph-paths.ts';
import { StaticPolicy } from './static-policy.ts';
import type { SystemGraph, SystemNode } from './system-graph.ts';

/** What every property check reads: the system, its graph, shortest paths from the entry points, the policy. */
export interface PropertyContext {
  readonly system: AgentSystem;
  readonly graph: SystemGraph;
  /** Shortest delegation paths from the entry points: the counterexample paths. */
  readonly fromRoots: SearchTree;
  readonly policy: StaticPolicy;
}

export function createPropertyContext(system: AgentSystem, graph: SystemGraph): PropertyContext {
  return { system, graph, fromRoots: searchFrom(graph, graph.roots), policy: new StaticPolicy(system.policy) };
}

/** The agents of the graph with their nodes, in node order. */
export function agentNodes(graph: SystemGraph): (SystemNode & { readonly agent: AgentDefinition })[] {
  return graph.nodes.filter((node): node is SystemNode & { readonly agent: AgentDefinition } => node.agent !== null);
}

/** The shortest path from an entry point to `node`, then `tail` (a tool name, say). */
export function pathTo(context: PropertyContext, node: number, ...tail: string[]): string[] {
  return [...labelledPathTo(context.graph, context.fromRoots, node), ...tail];
}

/** Collects a property's facts and violations, and builds its result. */
export class PropertyRecorder {
  private readonly facts: CheckFact[] = [];
  private readonly violations: CheckViolation[] = [];
  private readonly id: PropertyId;
  private readonly title: string;

  constructor(id: PropertyId, title: string) {
    this.id = id;
    this.title = title;
  }

  fact(subject: string, statement: string): void {
    this.facts.push({ subject, statement });
  }

  violation(path: readonly string[], message: string): void {
    this.violations.push({ path, message });
  }

  result(): PropertyResult {
    return { id: this.id, title: this.title, holds: this.violations.length === 0, violations: this.violations, facts: this.facts };
  }
}
