import { KeelError } from '../errors/index.ts';
import type { AgentDefinition } from '../loop/index.ts';

/** An agent a worker can run, with the module it came from (recorded in new sessions so `keel resume` finds it). */
export interface WorkerAgent {
  readonly agent: AgentDefinition;
  readonly module?: string;
}

/** The agents of one worker, by name: a queued session names its agent, never code to load. */
export class AgentCatalog {
  private readonly byName = new Map<string, WorkerAgent>();

  constructor(agents: readonly (AgentDefinition | WorkerAgent)[]) {
    for (const entry of agents) {
      const item: WorkerAgent = 'agent' in entry && typeof (entry as WorkerAgent).agent === 'object' ? (entry as WorkerAgent) : { agent: entry as AgentDefinition };
      const name = item.agent.name;
      const known = this.byName.get(name);
      if (known !== undefined && known.agent !== item.agent) {
        throw new KeelError('invalid-config', `Two different agents are named "${name}"${item.module === undefined ? '' : ` (${known.module ?? 'given directly'} and ${item.module})`}: a queued session names its agent, so names must be unique among a worker's agents.`);
      }
      this.byName.set(name, item);
    }
    if (this.byName.size === 0) throw new KeelError('invalid-config', 'A worker needs at least one agent to run.');
  }

  get(name: string): WorkerAgent | undefined {
    return this.byName.get(name);
  }

  names(): readonly string[] {
    return [...this.byName.keys()].sort();
  }
}
