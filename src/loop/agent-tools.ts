import { KeelError } from '../errors/index.ts';
import type { ToolDefinition } from '../tools/define-tool.ts';

/** Anything that supplies tools that may change while a session runs, such as an MCP server. */
export interface ToolSource {
  readonly name: string;
  tools(): readonly ToolDefinition[];
}

/**
 * The agent's tools as a live map: its own tools, then each source's current list, read on every access so an
 * MCP server's `list_changed` reaches the next turn. A source tool never shadows a local one.
 */
export class AgentToolMap implements ReadonlyMap<string, ToolDefinition> {
  private readonly local: ReadonlyMap<string, ToolDefinition>;
  private readonly sources: readonly ToolSource[];
  constructor(local: ReadonlyMap<string, ToolDefinition>, sources: readonly ToolSource[]) {
    this.local = local;
    this.sources = sources;
  }

  private merged(): Map<string, ToolDefinition> {
    const all = new Map(this.local);
    for (const source of this.sources) {
      for (const tool of source.tools()) if (!all.has(tool.name)) all.set(tool.name, tool);
    }
    return all;
  }

  get size(): number {
    return this.sources.length === 0 ? this.local.size : this.merged().size;
  }

  get(name: string): ToolDefinition | undefined {
    const own = this.local.get(name);
    if (own !== undefined || this.sources.length === 0) return own;
    for (const source of this.sources) {
      const found = source.tools().find((tool) => tool.name === name);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  forEach(callback: (value: ToolDefinition, key: string, map: ReadonlyMap<string, ToolDefinition>) => void): void {
    for (const [key, value] of this.merged()) callback(value, key, this);
  }

  entries(): MapIterator<[string, ToolDefinition]> {
    return this.merged().entries();
  }

  keys(): MapIterator<string> {
    return this.merged().keys();
  }

  values(): MapIterator<ToolDefinition> {
    return this.merged().values();
  }

  [Symbol.iterator](): MapIterator<[string, ToolDefinition]> {
    return this.entries();
  }
}

export function localToolMap(tools: readonly ToolDefinition[], agentName: string): Map<string, ToolDefinition> {
  const map = new Map<string, ToolDefinition>();
  for (const tool of tools) {
    if (map.has(tool.name)) throw new KeelError('invalid-config', `Agent "${agentName}" has two tools named "${tool.name}".`);
    map.set(tool.name, tool);
  }
  return map;
}
