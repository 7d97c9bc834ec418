import { subagentOf } from '../../loop/index.ts';
import type { PropertyResult } from '../check-types.ts';
import { pathTo, PropertyRecorder } from '../property-context.ts';
import type { PropertyContext } from '../property-context.ts';

const title = 'Every side-effecting tool uses its idempotency key or declares a compensation.';

/**
 * A `write` or `irreversible` call re-run after a crash must not act twice, and a saga that fails must be able to undo
 * it: the tool declares `idempotent: true` (it deduplicates on `context.idempotencyKey`; the code cannot be read) or
 * a `compensate`. Subagent tools need neither: the child session's id is derived from the call, so a re-run finds it.
 */
export function checkIdempotency(context: PropertyContext): PropertyResult {
  const recorder = new PropertyRecorder('idempotency', title);
  let effects = 0;
  for (const { tool, holder } of context.graph.tools) {
    if (tool.risk === 'read') continue;
    effects += 1;
    const subject = `${context.graph.nodes[holder]?.label ?? holder}/${tool.name}`;
    const spec = subagentOf(tool);
    const declared = [
      spec === null ? null : `its child session (${spec.agent.name}) has an id derived from the call, so a re-run resumes or reads it`,
      tool.idempotent === true ? 'declares idempotent: true (deduplicates on its idempotency key)' : null,
      tool.compensate === null ? null : 'declares a compensation',
    ].filter((reason): reason is string => reason !== null);
    if (declared.length > 0) {
      recorder.fact(subject, `${tool.risk}; ${declared.join('; ')}`);
      continue;
    }
    recorder.violation(pathTo(context, holder, tool.name), tool.source.startsWith('mcp:') ? mcpAdvice(tool.name, tool.risk, tool.source) : `"${tool.name}" is a ${tool.risk} tool with neither idempotent: true nor a compensate: a call re-run after a crash may act twice, and a failed task cannot undo it. Deduplicate on context.idempotencyKey and declare idempotent: true, or give it a compensate.`);
  }
  if (effects === 0) recorder.fact('system', 'no tool changes anything: every tool is read-only');
  return recorder.result();
}

/** An MCP tool cannot declare anything in Keel: only its server's trusted hint, or the operator's risk override, can. */
function mcpAdvice(name: string, risk: string, source: string): string {
  const server = source.slice('mcp:'.length);
  return `"${name}" is a ${risk} tool of MCP server "${server}", which does not vouch that repeating a call is harmless: a call re-run after a crash may act twice. Mark the server trusted if its idempotentHint on this tool can be believed, give the tool a riskOverrides entry of read if it changes nothing, or leave it out of this agent.`;
}
