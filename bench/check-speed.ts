/**
 * `keel check` on generated systems: N agents in a delegation tree (each delegates to up to three children through
 * asTool with a budget slice, every third by handoff), four tools per agent (read, idempotent write, irreversible,
 * outbound write), a policy of 20 rules (names, patterns, conditional ones), and one delegation cycle closed through a
 * tool source and bounded by a deadline. It times checkSystem alone (the command adds the module import and Node's
 * start), best of five runs, and fails if a generated system, which satisfies every property, is reported otherwise.
 *
 *   node --import tsx bench/check-speed.ts [agents...]      (default 50 200 1000)
 */
import { z } from 'zod';
import { checkSystem } from '../src/check/index.ts';
import { asTool, defineAgent, handoff } from '../src/loop/index.ts';
import type { AgentDefinition } from '../src/loop/index.ts';
import type { PolicyRule } from '../src/security/tool-policy.ts';
import { defineTool } from '../src/tools/index.ts';
import type { ToolDefinition } from '../src/tools/index.ts';

const input = z.object({ target: z.string(), body: z.string() });

function toolsOf(index: number): ToolDefinition[] {
  const base = { input, execute: () => 'done' } as const;
  return [
    defineTool({ ...base, name: `read_${index}`, description: 'Reads.', risk: 'read', provenance: 'web' }),
    defineTool({ ...base, name: `write_${index}`, description: 'Writes.', risk: 'write', idempotent: true }),
    defineTool({ ...base, name: `delete_${index}`, description: 'Deletes.', risk: 'irreversible', compensate: () => 'restored' }),
    defineTool({ ...base, name: `send_${index}`, description: 'Sends.', risk: 'write', outbound: true, idempotent: true, sinks: ['target'] }),
  ];
}

const policyRules: PolicyRule[] = Array.from({ length: 20 }, (_, index): PolicyRule => {
  if (index % 3 === 0) return { name: `rate-${index}`, tools: new RegExp(`^write_${index}\\d*$`), decision: 'ask', reason: 'Checked.' };
  if (index % 3 === 1) return { name: `cond-${index}`, tools: [`send_${index}`], when: () => false, decision: 'deny', reason: 'Blocked.' };
  return { name: `reads-${index}`, risk: ['read'], agents: [`agent-${index}`], decision: 'allow', reason: 'Reads are fine.' };
});

/** Agents are built leaves first (a parent's tools name its children); agent 0 is the root. */
function buildSystem(size: number): AgentDefinition {
  const agents: AgentDefinition[] = new Array<AgentDefinition>(size);
  const late: { cycleTarget?: AgentDefinition } = {};
  for (let index = size - 1; index >= 0; index -= 1) {
    const depth = Math.floor(Math.log(2 * index + 1) / Math.log(3));
    const children = [1, 2, 3].map((offset) => 3 * index + offset).filter((child) => child < size);
    const delegations = children.map((child) => {
      const target = agents[child] as AgentDefinition;
      return child % 3 === 0 ? handoff(target) : asTool(target, { description: `Delegates to ${child}.`, budget: { tokens: Math.floor(1_000_000 / 2 ** (depth + 1)) } });
    });
    const leaf = children.length === 0 && index === size - 1;
    agents[index] = defineAgent({
      name: `agent-${index}`,
      instructions: `You are agent ${index}.`,
      tools: [...toolsOf(index), ...delegations],
      limits: { maxTurns: 10, ...(leaf ? { deadlineMs: 60_000 } : {}) },
      // The last agent delegates back to its parent through a tool source: a cycle its deadline bounds.
      ...(leaf ? { toolSources: [{ name: 'loop', tools: () => (late.cycleTarget === undefined ? [] : [asTool(late.cycleTarget, { description: 'Loops back.' })]) }] } : {}),
    });
  }
  late.cycleTarget = agents[Math.max(0, Math.floor((size - 2) / 3))];
  return agents[0] as AgentDefinition;
}

function best(run: () => unknown, repeats: number): number {
  let fastest = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round += 1) {
    const started = performance.now();
    for (let index = 0; index < repeats; index += 1) run();
    fastest = Math.min(fastest, (performance.now() - started) / repeats);
  }
  return fastest;
}

const sizes = process.argv.slice(2).map(Number).filter((size) => Number.isInteger(size) && size > 0);
for (const size of sizes.length > 0 ? sizes : [50, 200, 1000]) {
  const root = buildSystem(size);
  const system = { agents: [root], policy: { rules: policyRules }, budget: { tokens: 1_000_000 } };
  const report = checkSystem(system);
  if (!report.holds) {
    const failed = report.properties.filter((property) => !property.holds).map((property) => `${property.id}: ${property.violations[0]?.path.join(' → ')} ${property.violations[0]?.message}`);
    throw new Error(`The generated system of ${size} agents should satisfy every property, but:\n${failed.join('\n')}`);
  }
  const milliseconds = best(() => checkSystem(system), size <= 200 ? 20 : 3);
  const { agents, tools, delegations } = report.counts;
  const facts = report.properties.reduce((sum, property) => sum + property.facts.length, 0);
  console.log(`${String(agents).padStart(5)} agents ${String(tools).padStart(6)} tools ${String(delegations).padStart(5)} delegations ${String(facts).padStart(6)} facts   checkSystem ${milliseconds.toFixed(2).padStart(9)} ms`);
}
