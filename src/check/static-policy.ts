import { createToolPolicy } from '../security/tool-policy.ts';
import type { PolicyDecision, PolicyRule, ToolPolicy, ToolPolicyOptions } from '../security/tool-policy.ts';
import type { AgentDefinition } from '../loop/index.ts';
import type { ToolDefinition } from '../tools/index.ts';

/** One way the policy can decide a call: the rule, and whether it depends on the call's input (`when`). */
export interface PossibleVerdict {
  readonly decision: PolicyDecision;
  readonly rule: string;
  readonly conditional: boolean;
}

/**
 * The policy's possible verdicts on any call of `tool` by `agent`, whatever the input: the runtime's own evaluation
 * (name normalization, the built-in scope check, the limits on allowing irreversible and untrusted tools), run once
 * with every rule's `when` answering no. Each conditional rule it consulted on the way could have matched instead, so
 * its decision is possible too; the verdict reached is what happens when none does.
 */
export class StaticPolicy {
  private readonly policy: ToolPolicy;
  private readonly consulted: PolicyRule[] = [];
  readonly options: ToolPolicyOptions;

  constructor(options: ToolPolicyOptions = {}) {
    this.options = options;
    const rules = (options.rules ?? []).map((rule): PolicyRule => ({
      ...rule,
      // A fixed reason: a reason function could throw on the absent input and turn a verdict into a deny the runtime would not give.
      reason: 'static',
      ...(rule.when === undefined ? {} : { when: () => this.consult(rule) }),
    }));
    this.policy = createToolPolicy({ ...options, rules });
  }

  verdicts(agent: Pick<AgentDefinition, 'name' | 'scopes'>, tool: Pick<ToolDefinition, 'name' | 'risk' | 'scopes' | 'source' | 'requiresApproval'>): PossibleVerdict[] {
    this.consulted.length = 0;
    const final = this.policy.evaluate({
      agent: { name: agent.name, scopes: agent.scopes },
      tool: { name: tool.name, risk: tool.risk, scopes: tool.scopes, source: tool.source, ...(tool.requiresApproval === true ? { requiresApproval: true } : {}) },
      input: undefined,
    });
    return [...this.consulted.map((rule) => ({ decision: rule.decision, rule: rule.name, conditional: true })), { decision: final.decision, rule: final.rule, conditional: false }];
  }

  private consult(rule: PolicyRule): boolean {
    this.consulted.push(rule);
    return false;
  }
}

/** How a verdict reads in a fact or a counterexample. */
export function describeVerdict(verdict: PossibleVerdict): string {
  if (verdict.rule.startsWith('scope:')) return `denied: the agent lacks scope ${verdict.rule.slice('scope:'.length)}`;
  if (verdict.rule === 'untrusted-source') return 'sent for approval: the tool comes from an untrusted MCP server';
  const rule = verdict.rule === 'default' ? 'the default for its risk' : verdict.rule.startsWith('risk:') ? `the default for ${verdict.rule.slice('risk:'.length)} tools` : `rule "${verdict.rule}"`;
  const decided = verdict.decision === 'allow' ? 'allowed' : verdict.decision === 'ask' ? 'sent for approval' : 'denied';
  return `${decided} by ${rule}${verdict.conditional ? ' when its condition holds' : ''}`;
}
