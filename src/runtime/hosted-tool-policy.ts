import { KeelError } from '../errors/index.ts';
import { hostedToolScope } from '../model/hosted-tools.ts';
import { createToolPolicy } from '../security/tool-policy.ts';
import type { ToolPolicyOptions } from '../security/tool-policy.ts';
import type { AgentDefinition } from '../loop/index.ts';

/**
 * Provider-hosted tools pass the same policy as the agent's own tools, before a run starts: the scope
 * `hosted:<name>` must be granted, and the rules may deny them (by name, `agents`, or the source `hosted`). The provider
 * runs them inside its answer, out of reach of a person, so a rule that would `ask` refuses them instead. Web search
 * and fetch are `read` risk; code execution is `write` (it runs code, in the provider's container).
 */
export function checkHostedToolPolicy(agent: AgentDefinition, policy: ToolPolicyOptions | undefined): void {
  const tools = agent.modelSettings.hostedTools;
  if (tools.length === 0) return;
  const evaluator = createToolPolicy(policy ?? {});
  for (const tool of tools) {
    const verdict = evaluator.evaluate({
      agent: { name: agent.name, scopes: agent.scopes },
      tool: { name: tool.name, risk: tool.name === 'code_execution' ? 'write' : 'read', scopes: [hostedToolScope(tool.name)], source: 'hosted' },
      input: tool,
    });
    if (verdict.decision !== 'allow') {
      const why = verdict.decision === 'ask' ? 'the policy asks a person to approve it, which a tool the provider runs inside its answer cannot wait for' : verdict.reason;
      throw new KeelError('tool-denied', `Agent "${agent.name}" may not enable the hosted tool '${tool.name}' (rule ${verdict.rule}): ${why}. Grant it with a policy rule that allows it, or remove it from the agent's modelSettings.hostedTools.`, {
        details: { agent: agent.name, tool: tool.name, rule: verdict.rule, decision: verdict.decision },
      });
    }
  }
}
