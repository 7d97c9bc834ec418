import { useCallback, useMemo } from 'react';
import { useApi } from '../api/api-context.tsx';
import type { AgentInfo } from '../api/types.ts';
import { useResource } from './use-resource.ts';

export interface Agents {
  readonly agents: readonly AgentInfo[];
  readonly error: unknown;
  /** The input schema of an agent's tool, or null when the agent or tool is not registered with this server. */
  readonly schemaOf: (agent: string, tool: string) => Readonly<Record<string, unknown>> | null;
}

export function useAgents(): Agents {
  const { client } = useApi();
  const resource = useResource('agents', () => client.agents());
  const agents = useMemo(() => resource.data?.agents ?? [], [resource.data]);
  const schemaOf = useCallback(
    (agent: string, tool: string) => agents.find((each) => each.name === agent)?.tools.find((each) => each.name === tool)?.inputSchema ?? null,
    [agents],
  );
  return { agents, error: resource.error, schemaOf };
}
