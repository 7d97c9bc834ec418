import type { AgentDefinition } from '../../loop/index.ts';
import { hostedToolScope } from '../../model/index.ts';
import type { ToolDefinition } from '../../tools/index.ts';
import { outputProvenanceOf } from '../../tools/stages/information-flow.ts';
import type { PropertyResult } from '../check-types.ts';
import { agentNodes, pathTo, PropertyRecorder } from '../property-context.ts';
import type { PropertyContext } from '../property-context.ts';
import { describeVerdict } from '../static-policy.ts';

const title = 'No outbound tool can receive untrusted content without a provenance rule.';

/** Where untrusted content enters the agent's context: each tool's output (by its provenance), memory, a handed-over conversation. */
function untrustedSources(context: PropertyContext, index: number, agent: AgentDefinition): string[] {
  const sources = (context.graph.nodes[index]?.tools ?? []).map((tool) => `${tool.name} (${outputProvenanceOf(tool)})`);
  if (agent.memory !== null) sources.push('retrieved memories (memory)');
  const handedOver = context.graph.edges.filter((edge) => edge.to === index && edge.mode === 'handoff');
  if (handedOver.length > 0) sources.push(`the conversation handed over by ${handedOver.map((edge) => context.graph.nodes[edge.from]?.label).join(', ')}, tool results quoted in it included`);
  return sources;
}

/** The information-flow rule that covers the tool's arguments, or why none does. */
function flowRule(agent: AgentDefinition, tool: ToolDefinition): { readonly covers: true; readonly fact: string } | { readonly covers: false; readonly gap: string } {
  if (!agent.injection.informationFlow) return { covers: false, gap: `information-flow control is off for agent "${agent.name}" (injection: false or informationFlow: false)` };
  if (tool.risk === 'read') return { covers: false, gap: `it is a read tool, and information-flow control traces the arguments of write and irreversible tools only (declare its risk as write)` };
  if (tool.sinks !== undefined && tool.sinks.length === 0) return { covers: false, gap: 'it declares sinks: [], so no argument is traced' };
  const sinks = tool.sinks === undefined ? 'every argument' : `sink argument${tool.sinks.length === 1 ? '' : 's'} ${tool.sinks.join(', ')}`;
  return {
    covers: true,
    fact: `information-flow control: ${sinks} traced to untrusted content → ${agent.injection.escalate}; any write after a detection → ${agent.injection.escalate}; the system prompt or secret output in them → deny`,
  };
}

/**
 * Every outbound tool an agent holds: what it can receive is whatever entered that agent's context, and tool output
 * always does, so a provenance rule must stand between the two: information-flow control over its sink arguments,
 * or a policy that puts every call before a person (or denies it).
 */
export function checkOutbound(context: PropertyContext): PropertyResult {
  const recorder = new PropertyRecorder('outbound', title);
  let outbound = 0;
  for (const node of agentNodes(context.graph)) {
    for (const tool of node.tools) {
      if (tool.outbound !== true) continue;
      outbound += 1;
      const subject = `${node.label}/${tool.name}`;
      const sources = untrustedSources(context, node.index, node.agent).join(', ');
      const verdicts = context.policy.verdicts(node.agent, tool);
      const gated = verdicts.every((verdict) => verdict.decision !== 'allow');
      const flow = flowRule(node.agent, tool);
      if (flow.covers) {
        recorder.fact(subject, `${flow.fact}; untrusted content enters from ${sources}`);
        continue;
      }
      if (gated) {
        recorder.fact(subject, `every call needs a person or is denied (${verdicts.map(describeVerdict).join(', else ')}); untrusted content enters from ${sources}`);
        continue;
      }
      recorder.violation(
        pathTo(context, node.index, tool.name),
        `outbound "${tool.name}" can carry untrusted content unchecked: ${flow.gap}, and the policy lets it run (${verdicts.filter((verdict) => verdict.decision === 'allow').map(describeVerdict).join('; ')}). Untrusted content enters "${node.agent.name}" from ${sources}.`,
      );
    }
  }
  outbound += checkHostedFetch(context, recorder);
  if (outbound === 0) recorder.fact('system', 'no tool is declared outbound');
  return recorder.result();
}

/**
 * The provider-hosted `web_fetch` sends requests to whatever URL the model writes, from inside the provider's answer,
 * where neither information-flow control nor a person can stand: only its `allowedDomains` limit where content can go.
 * The runtime refuses to start an agent whose policy does not allow the hosted tool. Returns how many were checked.
 */
function checkHostedFetch(context: PropertyContext, recorder: PropertyRecorder): number {
  let checked = 0;
  for (const node of agentNodes(context.graph)) {
    const fetch = node.agent.modelSettings.hostedTools.find((tool) => tool.name === 'web_fetch');
    if (fetch === undefined) continue;
    checked += 1;
    const subject = `${node.label}/web_fetch (hosted)`;
    const verdicts = context.policy.verdicts(node.agent, { name: 'web_fetch', risk: 'read', scopes: [hostedToolScope('web_fetch')], source: 'hosted' });
    if (verdicts.every((verdict) => verdict.decision !== 'allow')) {
      recorder.fact(subject, `the run is refused before it starts: the policy does not allow the hosted tool (${verdicts.map(describeVerdict).join(', else ')})`);
      continue;
    }
    const domains = fetch.allowedDomains ?? [];
    if (domains.length > 0) {
      recorder.fact(subject, `the provider fetches only from ${domains.join(', ')} (allowedDomains)`);
      continue;
    }
    recorder.violation(
      pathTo(context, node.index, 'web_fetch (hosted)'),
      `the provider-hosted web_fetch of "${node.agent.name}" requests any URL the model writes, outside information-flow control and out of a person's reach, and untrusted content enters "${node.agent.name}" from ${untrustedSources(context, node.index, node.agent).join(', ')}. Give it allowedDomains, or remove it from modelSettings.hostedTools.`,
    );
  }
  return checked;
}
