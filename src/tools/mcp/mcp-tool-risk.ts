import type { ToolRisk } from '../define-tool.ts';

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
