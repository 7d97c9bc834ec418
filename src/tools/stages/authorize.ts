import { createToolPolicy } from '../../security/tool-policy.ts';
import type { ToolPolicy, ToolPolicyOptions } from '../../security/tool-policy.ts';
import type { DecideStage, DecisionOutcome } from '../pipeline/tool-invocation.ts';

const strictness = { allow: 0, ask: 1, deny: 2 } as const;

/**
 * The authorize stage: the tool policy's verdict on this agent, tool and input.
 * A deny answers at once, so a refused call costs no rate-limit token. An allow or an ask goes on
 * through the later stages (rate limit, approval policy), and the stricter answer wins: an `ask`
 * that is also over its rate limit is denied rather than put in front of a person.
 */
export function createAuthorizeStage(policy: ToolPolicy | ToolPolicyOptions = {}): DecideStage {
  const resolved = 'evaluate' in policy ? policy : createToolPolicy(policy);
  return async (invocation, next) => {
    const { agent, tool, input } = invocation;
    const verdict: DecisionOutcome = resolved.evaluate({
      agent: { name: agent.name, scopes: agent.scopes },
      tool: { name: tool.name, risk: tool.risk, scopes: tool.scopes, source: tool.source, ...(tool.requiresApproval === true ? { requiresApproval: true } : {}) },
      input,
    });
    if (verdict.decision === 'deny') return verdict;
    const later = await next();
    return strictness[later.decision] > strictness[verdict.decision] ? later : verdict;
  };
}
