import type { PropertyResult } from '../check-types.ts';
import { agentNodes, pathTo, PropertyRecorder } from '../property-context.ts';
import type { PropertyContext } from '../property-context.ts';
import { describeVerdict } from '../static-policy.ts';

const title = 'No irreversible tool is reachable by any agent, through any delegation path, without an approval rule.';

/**
 * Every irreversible tool of every reachable agent, under the policy's possible verdicts for that agent: the call
 * must be denied or put before a person whatever its input. An `allow` the policy can reach (a rule naming the tool,
 * or one listing `irreversible`, with or without a condition) runs it unattended.
 */
export function checkApproval(context: PropertyContext): PropertyResult {
  const recorder = new PropertyRecorder('approval', title);
  let irreversible = 0;
  for (const node of agentNodes(context.graph)) {
    for (const tool of node.tools) {
      if (tool.risk !== 'irreversible') continue;
      irreversible += 1;
      const verdicts = context.policy.verdicts(node.agent, tool);
      const allowing = verdicts.filter((verdict) => verdict.decision === 'allow');
      const subject = `${node.label}/${tool.name}`;
      if (allowing.length === 0) {
        recorder.fact(subject, `irreversible; ${verdicts.map(describeVerdict).join(', else ')}`);
        continue;
      }
      recorder.violation(
        pathTo(context, node.index, tool.name),
        `"${tool.name}" is irreversible and runs without a person's approval: ${allowing.map(describeVerdict).join('; ')}. Remove the allow (irreversible tools ask by default) or make the rule ask.`,
      );
    }
  }
  if (irreversible === 0) recorder.fact('system', 'no agent holds an irreversible tool');
  return recorder.result();
}
