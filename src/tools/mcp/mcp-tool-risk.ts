import type { ToolRisk } from '../define-tool.ts';
import type { McpServerTrust } from './mcp-server-config.ts';

export interface ToolAnnotationHints {
  readonly readOnlyHint?: boolean;
  readonly destructiveHint?: boolean;
}

const order: Record<ToolRisk, number> = { read: 0, write: 1, irreversible: 2 };

/**
 * The risk Keel assigns to a server's tool. MCP requires clients to treat annotations as untrusted, so they may only
 * raise the configured risk, never lower it: a lying server can make its tools more restricted, not less.
 * `destructiveHint: true` raises to `irreversible`; an explicit `readOnlyHint: false` (the tool says it changes its
 * environment) raises to at least `write`; `readOnlyHint: true` changes nothing, because it would only ever lower.
 * Tools without annotations keep the configured risk: MCP's default `destructiveHint` is true, but applying it would
 * send every unannotated tool to approval, so the operator's `riskOverrides` / `defaultRisk` decide instead.
 */
export function mcpToolRisk(configured: ToolRisk, annotations: ToolAnnotationHints | undefined): ToolRisk {
  let fromAnnotations: ToolRisk = 'read';
  if (annotations?.readOnlyHint === false) fromAnnotations = 'write';
  if (annotations?.destructiveHint === true) fromAnnotations = 'irreversible';
  return order[fromAnnotations] > order[configured] ? fromAnnotations : configured;
}

export interface McpToolTrustFacts {
  readonly trust: McpServerTrust;
  /** The operator's `riskOverrides` entry for the tool, if any. */
  readonly override: ToolRisk | undefined;
  readonly defaultRisk: ToolRisk;
  readonly annotations: ToolAnnotationHints | undefined;
}

/**
 * Risk and approval for a server's tool. The operator's override always decides the risk (annotations may raise it).
 * Without one, a trusted server is believed (`readOnlyHint: true` makes a tool `read`), while an untrusted server's
 * tool keeps `defaultRisk` raised by its hints and needs a person's approval for each call (`requiresApproval`): a
 * server the agent was not told to trust cannot talk its tools out of review by calling them read-only.
 */
export function mcpToolTrust(facts: McpToolTrustFacts): { readonly risk: ToolRisk; readonly requiresApproval: boolean } {
  if (facts.override !== undefined) return { risk: mcpToolRisk(facts.override, facts.annotations), requiresApproval: false };
  if (facts.trust === 'untrusted') return { risk: mcpToolRisk(facts.defaultRisk, facts.annotations), requiresApproval: true };
  const claimsReadOnly = facts.annotations?.readOnlyHint === true && facts.annotations.destructiveHint !== true;
  return { risk: claimsReadOnly ? 'read' : mcpToolRisk(facts.defaultRisk, facts.annotations), requiresApproval: false };
}
