import { KeelError } from '../errors/index.ts';
import type { ToolRisk } from '../spec/tool-risk.ts';
import { foldToolName, normalizeToolName } from './tool-name.ts';

/**
 * The last layer of the defence in depth: constraints that hold whatever the model says. The policy is
 * pure (no I/O, no clock), so a decision can be recomputed from the journal and tested as a table.
 */

export type { ToolRisk };
export type PolicyDecision = 'allow' | 'deny' | 'ask';

export const toolRisks: readonly ToolRisk[] = ['read', 'write', 'irreversible'];
const policyDecisions: readonly PolicyDecision[] = ['allow', 'deny', 'ask'];

export interface PolicyAgent {
  readonly name: string;
  readonly scopes: readonly string[];
}

export interface PolicyTool {
  readonly name: string;
  readonly risk: ToolRisk;
  readonly scopes: readonly string[];
  /** `local`, or `mcp:<server>` for tools an MCP server describes. */
  readonly source: string;
  /**
   * Set for tools whose description of themselves is not trusted (an MCP server the agent was not told to trust, for a
   * tool without a `riskOverrides` entry): by default a person approves each call, whatever the risk. Only a rule that
   * names the tool (`tools`) or its source (`sources`) can allow it without approval.
   */
  readonly requiresApproval?: boolean;
}

export interface PolicyRequest {
  readonly agent: PolicyAgent;
  readonly tool: PolicyTool;
  /** The validated input: rules may look at it, for example at a refund's amount. */
  readonly input: unknown;
}

export interface PolicyVerdict {
  readonly decision: PolicyDecision;
  /** `scope:<scope>`, a user rule's name, `risk:<risk>`, or `default`. */
  readonly rule: string;
  /** Shown to the model on deny and to the approver on ask, so it says what to do about it. */
  readonly reason: string;
}

/**
 * A user rule. Every matcher given must match (an absent matcher matches anything); the first matching rule decides.
 * Names in `tools`, `agents` and `sources` match whatever the case, separators (`_ - . space`), full-width forms or
 * invisible characters (`normalizeToolName`); a RegExp is tried on the name as written, folded (lower case,
 * separators as `_`) and normalized, and matches if any of them does.
 */
export interface PolicyRule {
  readonly name: string;
  readonly tools?: readonly string[] | RegExp;
  readonly risk?: readonly ToolRisk[];
  readonly agents?: readonly string[];
  readonly sources?: readonly string[] | RegExp;
  readonly when?: (input: unknown, request: PolicyRequest) => boolean;
  readonly decision: PolicyDecision;
  readonly reason: string | ((request: PolicyRequest) => string);
}

/** What happens when no rule matches, by risk. Irreversible tools can be made stricter (deny), never looser than ask. */
export interface PolicyDefaults {
  readonly read?: PolicyDecision;
  readonly write?: PolicyDecision;
  readonly irreversible?: 'ask' | 'deny';
}

export interface ToolPolicyOptions {
  readonly rules?: readonly PolicyRule[];
  readonly defaults?: PolicyDefaults;
}

export interface ToolPolicy {
  readonly rules: readonly PolicyRule[];
  readonly defaults: Readonly<Record<ToolRisk, PolicyDecision>>;
  evaluate(request: PolicyRequest): PolicyVerdict;
}

// Names the built-in checks and other stages use; a user rule with one of them would make the audit log ambiguous.
const reservedPrefixes = ['scope:', 'risk:', 'rate-limit:'];
const reservedNames = ['default', 'schema', 'untrusted-source'];

/**
 * Evaluates, in an order no rule can weaken: (1) every scope the tool requires must be granted to the
 * agent, else deny; (2) user rules, first match wins; (3) the default for the tool's risk, which is ask
 * for irreversible tools and allow otherwise. An `allow` rule covers an irreversible tool only when it
 * names the tool in `tools` or lists `irreversible` in `risk`, so a broad allow (by agent, pattern or
 * source) cannot switch off approval by accident. A rule whose `when` throws denies: the policy fails closed.
 */
export function createToolPolicy(options: ToolPolicyOptions = {}): ToolPolicy {
  const rules = (options.rules ?? []).map(checkRule);
  checkUniqueNames(rules);
  const defaults = resolveDefaults(options.defaults ?? {});

  function evaluate(request: PolicyRequest): PolicyVerdict {
    const scopeVerdict = checkScopes(request);
    if (scopeVerdict !== undefined) return scopeVerdict;
    for (const rule of rules) {
      const verdict = applyRule(rule, request);
      if (verdict !== undefined) return verdict;
    }
    return defaultVerdict(request, defaults[request.tool.risk]);
  }

  return { rules, defaults, evaluate };
}

function checkScopes({ agent, tool }: PolicyRequest): PolicyVerdict | undefined {
  const granted = new Set(agent.scopes);
  const missing = tool.scopes.filter((scope) => !granted.has(scope));
  const [first, ...others] = missing;
  if (first === undefined) return undefined;
  const alsoMissing = others.length === 0 ? '' : ` (it also lacks ${others.join(', ')})`;
  return {
    decision: 'deny',
    rule: `scope:${first}`,
    reason: `Agent "${agent.name}" lacks scope ${first}, which tool "${tool.name}" requires${alsoMissing}; grant it in defineAgent({ scopes }) if intended.`,
  };
}

function applyRule(rule: PolicyRule, request: PolicyRequest): PolicyVerdict | undefined {
  if (!matchesStatically(rule, request)) return undefined;
  try {
    if (rule.when !== undefined && !rule.when(request.input, request)) return undefined;
    const reason = typeof rule.reason === 'string' ? rule.reason : rule.reason(request);
    return { decision: rule.decision, rule: rule.name, reason };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      decision: 'deny',
      rule: rule.name,
      reason: `Policy rule "${rule.name}" failed on this input of tool "${request.tool.name}" (${message}), so the call is denied; fix the rule's when() or reason() to handle such input.`,
    };
  }
}

function matchesStatically(rule: PolicyRule, { agent, tool }: PolicyRequest): boolean {
  if (rule.tools !== undefined && !matchesName(rule.tools, tool.name)) return false;
  if (rule.risk !== undefined && !rule.risk.includes(tool.risk)) return false;
  if (rule.agents !== undefined && !matchesName(rule.agents, agent.name)) return false;
  if (rule.sources !== undefined && !matchesName(rule.sources, tool.source)) return false;
  // An untrusted tool's approval is switched off only by a rule aimed at that tool or its source, not by a broad allow.
  if (rule.decision === 'allow' && tool.requiresApproval === true && rule.tools === undefined && rule.sources === undefined) return false;
  if (rule.decision === 'allow' && tool.risk === 'irreversible') {
    const namesTool = Array.isArray(rule.tools) && matchesName(rule.tools, tool.name);
    const namesRisk = rule.risk?.includes('irreversible') ?? false;
    if (!namesTool && !namesRisk) return false;
  }
  return true;
}

/** Compares normalized names, so a tool cannot dodge a rule by spelling its name differently. */
function matchesName(matcher: readonly string[] | RegExp, name: string): boolean {
  if (matcher instanceof RegExp) return matcher.test(name) || matcher.test(foldToolName(name)) || matcher.test(normalizeToolName(name));
  const normalized = normalizeToolName(name);
  return matcher.some((entry) => normalizeToolName(entry) === normalized);
}

function defaultVerdict({ tool }: PolicyRequest, decision: PolicyDecision): PolicyVerdict {
  if (decision === 'allow' && tool.requiresApproval === true) {
    return {
      decision: 'ask',
      rule: 'untrusted-source',
      reason: `Tool "${tool.name}" comes from ${tool.source}, which is not trusted, so what it says about itself is only a hint and a person must approve this call; to run it without approval, set a riskOverrides entry for it, mark the server trusted, or add a policy rule that allows "${tool.name}" by name.`,
    };
  }
  if (decision === 'allow') {
    return { decision, rule: 'default', reason: `No policy rule matched; "${tool.risk}" tools are allowed by default once the agent holds their scopes.` };
  }
  const rule = `risk:${tool.risk}`;
  if (decision === 'deny') {
    return {
      decision,
      rule,
      reason: `Tool "${tool.name}" has risk "${tool.risk}", which this policy denies unless a rule allows it; add a rule naming "${tool.name}" if this agent should use it.`,
    };
  }
  const skip = tool.risk === 'irreversible' ? `a rule that allows "${tool.name}" by name` : `a rule that allows "${tool.name}"`;
  return {
    decision,
    rule,
    reason: `Tool "${tool.name}" is ${tool.risk === 'irreversible' ? 'irreversible' : `a "${tool.risk}" tool`}, so a person must approve this call before it runs; to run it without approval, add ${skip} to the tool policy.`,
  };
}

function resolveDefaults(defaults: PolicyDefaults): Readonly<Record<ToolRisk, PolicyDecision>> {
  const resolved = { read: defaults.read ?? 'allow', write: defaults.write ?? 'allow', irreversible: defaults.irreversible ?? 'ask' } as const;
  for (const risk of toolRisks) {
    if (!policyDecisions.includes(resolved[risk])) {
      throw new KeelError('invalid-config', `Tool policy defaults.${risk} must be one of ${policyDecisions.join(', ')}, got ${String(resolved[risk])}.`);
    }
  }
  if ((resolved.irreversible as PolicyDecision) === 'allow') {
    throw new KeelError(
      'invalid-config',
      'Tool policy defaults.irreversible cannot be "allow": irreversible calls need a person\'s approval. To run one tool unattended, add a rule { name, tools: ["<tool>"], decision: "allow" } for it.',
    );
  }
  return resolved;
}

function checkRule(rule: PolicyRule, index: number): PolicyRule {
  const where = `Tool policy rule ${index + 1}${typeof rule.name === 'string' && rule.name !== '' ? ` ("${rule.name}")` : ''}`;
  if (typeof rule.name !== 'string' || rule.name.trim() === '') throw new KeelError('invalid-config', `${where} needs a non-empty name: the audit log records which rule decided.`);
  if (reservedNames.includes(rule.name) || reservedPrefixes.some((prefix) => rule.name.startsWith(prefix))) {
    throw new KeelError('invalid-config', `${where}: the name is reserved for built-in checks (${[...reservedNames, ...reservedPrefixes.map((prefix) => `${prefix}…`)].join(', ')}); choose another.`);
  }
  if (!policyDecisions.includes(rule.decision)) {
    throw new KeelError('invalid-config', `${where}: decision must be one of ${policyDecisions.join(', ')}, got ${String(rule.decision)}.`);
  }
  if (typeof rule.reason !== 'function' && (typeof rule.reason !== 'string' || rule.reason.trim() === '')) {
    throw new KeelError('invalid-config', `${where} needs a reason: the model (on deny) or the approver (on ask) reads it.`);
  }
  const unknownRisk = rule.risk?.find((risk) => !toolRisks.includes(risk));
  if (unknownRisk !== undefined) throw new KeelError('invalid-config', `${where}: risk "${String(unknownRisk)}" is not one of ${toolRisks.join(', ')}.`);
  // A global or sticky RegExp remembers where its last match ended, so test() would alternate between calls.
  return { ...rule, ...(rule.tools instanceof RegExp ? { tools: statelessPattern(rule.tools) } : {}), ...(rule.sources instanceof RegExp ? { sources: statelessPattern(rule.sources) } : {}) };
}

function statelessPattern(pattern: RegExp): RegExp {
  return new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
}

function checkUniqueNames(rules: readonly PolicyRule[]): void {
  const seen = new Set<string>();
  for (const rule of rules) {
    if (seen.has(rule.name)) throw new KeelError('invalid-config', `Tool policy has two rules named "${rule.name}"; names must be unique so the audit log says which one decided.`);
    seen.add(rule.name);
  }
}
