import { z } from 'zod';
import { KeelError } from '../errors/index.ts';
import { defineTool } from '../tools/index.ts';
import type { ToolDefinition } from '../tools/index.ts';
import type { ChildMode, SessionBudget } from '../spec/events.ts';
import type { AgentDefinition } from './define-agent.ts';
import { sessionBudgetOf } from './tree-budget.ts';
import type { BudgetLimits } from './tree-budget.ts';

/** How a subagent tool runs its child: the agent, how the task is made from the call's input, what output it must give. */
export interface SubagentSpec {
  readonly agent: AgentDefinition;
  readonly mode: ChildMode;
  /** The child's whole task, made from the validated input of the call. Unused by handoffs, which pass the conversation. */
  readonly task: (input: unknown) => string;
  /** When set, the child's final answer must be JSON matching this schema; the parent receives it re-serialized. */
  readonly output: z.ZodType | null;
  readonly slice: SessionBudget | null;
  readonly timeMs: number | null;
}

/** A tool whose call runs another agent as a child session (its `execute` is bound by the loop at run time). */
export interface SubagentTool extends ToolDefinition {
  readonly subagent: SubagentSpec;
  /** What a child says is data for the parent, never instructions. */
  readonly provenance: 'subagent';
}

export interface AsToolOptions<Input extends z.ZodType = z.ZodType> {
  /** The tool's name; defaults to the agent's name. */
  readonly name?: string;
  /** What the parent's model reads to decide when to delegate. */
  readonly description: string;
  /** The call's input; defaults to `{ task: string, context?: string }`. Must be an object schema. */
  readonly input?: Input;
  /** Builds the child's task from the input; defaults to the `task` field, followed by `context` when given. */
  readonly task?: (input: z.output<Input>) => string;
  /** The child must answer with JSON matching this schema; a child that does not fails the call (`tool-output-rejected`). */
  readonly output?: z.ZodType;
  /** A slice of the parent's budget (tokens, cost, time); never more than the parent has. */
  readonly budget?: BudgetLimits;
  /** How long the parent waits for the child. Defaults to the child's time budget, else 10 minutes. */
  readonly timeoutMs?: number;
}

const defaultInput = z.object({
  task: z.string().min(1).max(20_000).describe('The whole task for the subagent: it sees nothing of this conversation but what you write here.'),
  context: z.string().max(50_000).optional().describe('Facts the subagent needs from this conversation, if any.'),
});

function defaultTask(input: unknown): string {
  const { task, context } = input as { task?: unknown; context?: unknown };
  if (typeof task !== 'string') return JSON.stringify(input);
  return typeof context === 'string' && context.trim() !== '' ? `${task}\n\nContext from the delegating agent:\n${context}` : task;
}

const defaultChildTimeoutMs = 10 * 60_000;

/**
 * An agent the parent's model can call as a tool. Each call runs the agent as a child session with its own journal
 * (id derived from the parent's session and the call, so a resumed parent never starts it twice), a clean context
 * (only the task the parent wrote), scopes no wider than the parent's, and a budget drawn from the parent's. Its
 * answer reaches the parent as untrusted data (provenance `subagent`).
 * @example
 * ```ts
 * const researcher = defineAgent({ name: 'researcher', instructions: 'Answer with sources.', tools: [search] });
 * const lead = defineAgent({
 *   name: 'lead',
 *   instructions: 'Split the question, delegate each part, then synthesize.',
 *   tools: [asTool(researcher, { description: 'Researches one focused question.', budget: { tokens: 20_000 } })],
 * });
 * ```
 */
export function asTool<Input extends z.ZodType = typeof defaultInput>(agent: AgentDefinition, options: AsToolOptions<Input>): SubagentTool {
  const input = options.input ?? defaultInput;
  const task = options.task === undefined ? defaultTask : (value: unknown) => (options.task as (input: unknown) => string)(value);
  return subagentTool(agent, { name: options.name ?? agent.name, description: options.description, input, mode: 'tool', task, output: options.output ?? null, budget: options.budget, timeoutMs: options.timeoutMs });
}

export interface HandoffOptions {
  /** Defaults to `transfer_to_<agent name>`. */
  readonly name?: string;
  readonly description?: string;
  readonly budget?: BudgetLimits;
  readonly timeoutMs?: number;
}

const handoffInput = z.object({ reason: z.string().min(1).max(2_000).describe('Why the conversation goes to this agent, in one or two sentences.') });

/**
 * A handoff: the model transfers the conversation to another agent, which answers in its place. The target runs as a
 * child session that receives the conversation's text (the user's and the agents' messages, not tool traffic) and
 * the reason; the parent's session then ends with the target's answer as its own.
 * @example
 * ```ts
 * const refunds = defineAgent({ name: 'refunds', instructions: 'Issue refunds after checking the order.', tools: [lookupOrder, issueRefund] });
 * const desk = defineAgent({ name: 'desk', instructions: 'Route: hand refunds to the refunds agent.', tools: [handoff(refunds)] });
 * const { output } = await keel.run(desk, 'Refund my duplicate charge on order 1042.').result; // the refunds agent's answer
 * ```
 */
export function handoff(agent: AgentDefinition, options: HandoffOptions = {}): SubagentTool {
  return subagentTool(agent, {
    name: options.name ?? `transfer_to_${agent.name}`,
    description: options.description ?? `Hand this conversation over to ${agent.name}, which answers the user from here on.`,
    input: handoffInput,
    mode: 'handoff',
    task: (value) => (value as { reason: string }).reason,
    output: null,
    budget: options.budget,
    timeoutMs: options.timeoutMs,
  });
}

interface SubagentToolSettings {
  readonly name: string;
  readonly description: string;
  readonly input: z.ZodType;
  readonly mode: ChildMode;
  readonly task: (input: unknown) => string;
  readonly output: z.ZodType | null;
  readonly budget: BudgetLimits | undefined;
  readonly timeoutMs: number | undefined;
}

function subagentTool(agent: AgentDefinition, settings: SubagentToolSettings): SubagentTool {
  const timeMs = settings.budget?.timeMs ?? null;
  if (timeMs !== null && !(timeMs > 0 && Number.isFinite(timeMs))) throw new KeelError('invalid-config', `Subagent tool "${settings.name}": budget.timeMs must be a positive number of milliseconds, got ${timeMs}.`);
  const base = defineTool({
    name: settings.name,
    description: settings.description,
    input: settings.input,
    risk: 'write',
    // The parent must hold what the child declares: the authorize stage refuses the call otherwise.
    scopes: agent.scopes,
    timeoutMs: settings.timeoutMs ?? timeMs ?? agent.limits.deadlineMs ?? defaultChildTimeoutMs,
    execute: () => {
      throw new KeelError('invalid-config', `Subagent tool "${settings.name}" runs only inside a Keel session (createKeel().run), which starts its child session.`);
    },
  });
  return { ...base, provenance: 'subagent', subagent: { agent, mode: settings.mode, task: settings.task, output: settings.output, slice: sessionBudgetOf(settings.budget), timeMs } };
}

export function subagentOf(tool: ToolDefinition | undefined): SubagentSpec | null {
  const spec = (tool as Partial<SubagentTool> | undefined)?.subagent;
  return spec === undefined ? null : spec;
}

/**
 * Refuses, when the agent is defined, a subagent that declares a scope the agent itself does not hold: delegation
 * only narrows privileges.
 */
export function checkDelegatedScopes(agentName: string, scopes: readonly string[], tools: readonly ToolDefinition[]): void {
  const held = new Set(scopes);
  for (const tool of tools) {
    const spec = subagentOf(tool);
    if (spec === null) continue;
    const wider = spec.agent.scopes.filter((scope) => !held.has(scope));
    if (wider.length > 0) {
      throw new KeelError(
        'invalid-config',
        `Agent "${agentName}" delegates to "${spec.agent.name}" (tool "${tool.name}"), which declares scope(s) ${wider.map((scope) => `"${scope}"`).join(', ')} that "${agentName}" does not hold: a subagent's scopes can only narrow its parent's.`,
        { details: { agent: agentName, subagent: spec.agent.name, widened: wider } },
      );
    }
  }
}

/**
 * The agent named `name` in `root`'s tree of subagents and handoff targets (`root` itself included), or null. A child
 * session records its tree's module; the command line loads the root from it and finds the child's agent here.
 */
export function findSubagent(root: AgentDefinition, name: string): AgentDefinition | null {
  const seen = new Set<AgentDefinition>();
  const queue: AgentDefinition[] = [root];
  while (queue.length > 0) {
    const agent = queue.shift();
    if (agent === undefined || seen.has(agent)) continue;
    if (agent.name === name) return agent;
    seen.add(agent);
    for (const tool of agent.tools.values()) {
      const spec = subagentOf(tool);
      if (spec !== null) queue.push(spec.agent);
    }
  }
  return null;
}
