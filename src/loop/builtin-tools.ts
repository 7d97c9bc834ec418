import type { ToolDefinition } from '../tools/define-tool.ts';
import { AgentToolMap } from './agent-tools.ts';
import type { AgentDefinition } from './define-agent.ts';
import type { LoopDependencies } from './loop-types.ts';
import { createReadToolResultTool, readToolResultName } from '../tools/read-tool-result.ts';

/**
 * The agent as the loop runs it: with the context planner on, old tool results may be replaced by stubs, so the agent
 * also gets `read_tool_result` to read them back. An agent's own tool of that name wins. Without the planner the
 * agent is returned as it is (no extra tool definitions are sent to the model).
 */
export function withBuiltinTools(agent: AgentDefinition, dependencies: LoopDependencies): AgentDefinition {
  if (agent.context === null || agent.tools.has(readToolResultName)) return agent;
  const builtin = createReadToolResultTool(dependencies.journal, dependencies.blobs);
  const own = { name: `agent:${agent.name}`, tools: (): readonly ToolDefinition[] => [...agent.tools.values()] };
  const builtins = { name: 'keel:builtin', tools: (): readonly ToolDefinition[] => [builtin] };
  return { ...agent, tools: new AgentToolMap(new Map(), [own, builtins]) };
}
