import { KeelError } from '../errors/index.ts';
import type { AgentSystem, CheckReport } from './check-types.ts';
import { checkApproval } from './properties/approval.ts';
import { checkBounded } from './properties/bounded.ts';
import { checkBudgets } from './properties/budgets.ts';
import { checkIdempotency } from './properties/idempotency.ts';
import { checkOutbound } from './properties/outbound.ts';
import { checkScopes } from './properties/scopes.ts';
import { createPropertyContext } from './property-context.ts';
import { buildSystemGraph } from './system-graph.ts';

/**
 * Proves six properties of an agent system without running any model or tool, or gives a counterexample path for
 * each that fails: every loop is bounded; no irreversible tool runs without an approval rule; no delegation widens
 * scopes; every side-effecting tool is idempotent or compensated; no outbound tool receives untrusted content
 * without a provenance rule; children's budgets fit inside their parents'. Each result lists the facts its proof
 * relied on (guards, rules, scope sets). It reads declarations only: a tool source (an MCP server) is asked for the
 * tools it lists now, which may change at run time.
 * @example
 * ```ts
 * const report = checkSystem({ agents: [desk], policy: { rules: [{ name: 'no-refunds', tools: ['issue_refund'], decision: 'deny', reason: 'Refunds go through finance.' }] } });
 * for (const property of report.properties) for (const violation of property.violations) console.log(violation.path.join(' → '), violation.message);
 * ```
 */
export function checkSystem(system: AgentSystem): CheckReport {
  if ((system.agents ?? []).length === 0 && (system.workflows ?? []).length === 0) {
    throw new KeelError('invalid-argument', 'Nothing to check: give checkSystem at least one agent or workflow.');
  }
  const graph = buildSystemGraph(system);
  const context = createPropertyContext(system, graph);
  const properties = [checkBounded(context), checkApproval(context), checkScopes(context), checkIdempotency(context), checkOutbound(context), checkBudgets(context)];
  return {
    holds: properties.every((property) => property.holds),
    counts: {
      agents: graph.nodes.filter((node) => node.agent !== null).length,
      workflows: graph.nodes.filter((node) => node.workflow !== null).length,
      tools: graph.tools.length,
      delegations: graph.edges.length,
    },
    properties,
  };
}
