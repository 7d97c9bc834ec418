import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { checkSystem } from '../../src/check/index.ts';
import type { AgentSystem, PropertyId, PropertyResult } from '../../src/check/index.ts';
import { asTool, defineAgent, handoff } from '../../src/loop/index.ts';
import type { AgentDefinition, AgentOptions } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import type { ToolDefinition, ToolOptions } from '../../src/tools/index.ts';
import { agentStep, chain } from '../../src/workflow/index.ts';

const input = z.object({ target: z.string() });

function tool(name: string, options: Partial<ToolOptions<typeof input>> = {}): ToolDefinition {
  return defineTool({ name, description: `${name}.`, input, risk: 'read', execute: () => 'done', ...options });
}

function agent(name: string, options: Partial<AgentOptions> = {}): AgentDefinition {
  return defineAgent({ name, instructions: `You are ${name}.`, ...options });
}

function property(system: AgentSystem, id: PropertyId): PropertyResult {
  const found = checkSystem(system).properties.find((result) => result.id === id);
  if (found === undefined) throw new Error(`no property ${id}`);
  return found;
}

function paths(result: PropertyResult): string[] {
  return result.violations.map((violation) => violation.path.join(' → '));
}

function facts(result: PropertyResult): string[] {
  return result.facts.map((fact) => `${fact.subject}: ${fact.statement}`);
}

/** A cycle between two agents, closed through a tool source (the only way to close one). */
function cycle(options: { readonly plannerLimits?: AgentOptions['limits']; readonly reviewBudget?: { tokens?: number; timeMs?: number } } = {}): AgentDefinition {
  const late: { reviewer?: AgentDefinition } = {};
  const planner = agent('planner', {
    toolSources: [{ name: 'review', tools: () => (late.reviewer === undefined ? [] : [asTool(late.reviewer, { description: 'Reviews.', ...(options.reviewBudget === undefined ? {} : { budget: options.reviewBudget }) })]) }],
    ...(options.plannerLimits === undefined ? {} : { limits: options.plannerLimits }),
  });
  late.reviewer = agent('reviewer', { tools: [asTool(planner, { description: 'Reworks.' })] });
  return agent('lead', { tools: [asTool(planner, { description: 'Plans.' })] });
}

describe('bounded', () => {
  it('relies on each agent’s guards, the default max turns included', () => {
    const result = property({ agents: [agent('solo', { limits: { maxTurns: 7, deadlineMs: 60_000 } }), agent('plain')] }, 'bounded');
    expect(result.holds).toBe(true);
    expect(facts(result)).toContain('solo: one session ends by maxTurns 7, deadline 60000 ms');
    expect(facts(result)).toContain('plain: one session ends by maxTurns 25');
  });

  it('fails an agent with no turn limit, deadline or budget', () => {
    const base = agent('endless');
    const endless: AgentDefinition = { ...base, limits: { ...base.limits, maxTurns: Number.POSITIVE_INFINITY } };
    const result = property({ agents: [endless] }, 'bounded');
    expect(result.holds).toBe(false);
    expect(paths(result)).toEqual(['endless']);
  });

  it('fails a delegation cycle with no deadline or budget, printing the way in and the cycle', () => {
    const result = property({ agents: [cycle()] }, 'bounded');
    expect(result.holds).toBe(false);
    expect(paths(result)).toEqual(['lead → asTool(planner) → asTool(reviewer) → asTool(planner)']);
  });

  it('accepts a cycle bounded by a deadline on it, a slice on it, or the root budget, and says which', () => {
    const byDeadline = property({ agents: [cycle({ plannerLimits: { deadlineMs: 120_000 } })] }, 'bounded');
    expect(byDeadline.holds).toBe(true);
    expect(facts(byDeadline).join('\n')).toContain('(on it: the deadline of agent planner, 120000 ms)');
    const bySlice = property({ agents: [cycle({ reviewBudget: { tokens: 10_000 } })] }, 'bounded');
    expect(bySlice.holds).toBe(true);
    expect(facts(bySlice).join('\n')).toContain('(on it: planner → asTool(reviewer) gives a budget slice of 10000 tokens)');
    const byRoot = property({ agents: [cycle()], budget: { costUsd: 2 } }, 'bounded');
    expect(byRoot.holds).toBe(true);
    expect(facts(byRoot).join('\n')).toContain("the root runs' budget ($2)");
  });

  it('accepts a cycle reached only through a deadline on the way to it', () => {
    const inner = cycle();
    const outer = agent('outer', { limits: { deadlineMs: 30_000 }, tools: [...inner.tools.values()] });
    const result = property({ agents: [outer] }, 'bounded');
    expect(result.holds).toBe(true);
    expect(facts(result)).toContain('planner ⇄ reviewer: cycle bounded: every pass around it, or every way to it from an entry point, crosses a deadline or a budget slice, which every descendant inherits');
  });
});

describe('approval', () => {
  const refund = tool('refund_payment', { risk: 'irreversible', idempotent: true });
  const billing = agent('billing', { tools: [refund] });
  const triage = agent('triage', { tools: [handoff(billing)] });

  it('holds by the default that sends irreversible calls for approval', () => {
    const result = property({ agents: [triage] }, 'approval');
    expect(result.holds).toBe(true);
    expect(facts(result)).toEqual(['billing/refund_payment: irreversible; sent for approval by the default for irreversible tools']);
  });

  it('fails a rule that allows the tool by name for the agent that reaches it, with the delegation path', () => {
    const policy = { rules: [{ name: 'auto-refund', tools: ['Refund-Payment'], agents: ['billing'], decision: 'allow' as const, reason: 'fine' }] };
    const result = property({ agents: [triage], policy }, 'approval');
    expect(paths(result)).toEqual(['triage → handoff(billing) → refund_payment']);
    expect(result.violations[0]?.message).toContain('allowed by rule "auto-refund"');
  });

  it('fails a conditional allow: some input runs the tool unattended', () => {
    const policy = { rules: [{ name: 'small-refunds', risk: ['irreversible' as const], when: () => true, decision: 'allow' as const, reason: 'small' }] };
    const result = property({ agents: [triage], policy }, 'approval');
    expect(result.holds).toBe(false);
    expect(result.violations[0]?.message).toContain('when its condition holds');
  });

  it('holds when the allow cannot apply: a broad allow, another agent, a missing scope, or an earlier ask', () => {
    const broad = { rules: [{ name: 'billing-all', agents: ['billing'], decision: 'allow' as const, reason: 'x' }] };
    expect(property({ agents: [triage], policy: broad }, 'approval').holds).toBe(true);
    const other = { rules: [{ name: 'ops-refunds', tools: ['refund_payment'], agents: ['ops'], decision: 'allow' as const, reason: 'x' }] };
    expect(property({ agents: [triage], policy: other }, 'approval').holds).toBe(true);
    const scoped = agent('scoped', { tools: [tool('wipe', { risk: 'irreversible', scopes: ['disk:wipe'], idempotent: true })] });
    const allowWipe = { rules: [{ name: 'wipe', tools: ['wipe'], decision: 'allow' as const, reason: 'x' }] };
    const denied = property({ agents: [scoped], policy: allowWipe }, 'approval');
    expect(denied.holds).toBe(true);
    expect(facts(denied)).toEqual(['scoped/wipe: irreversible; denied: the agent lacks scope disk:wipe']);
    const askFirst = { rules: [{ name: 'review', tools: ['refund_payment'], decision: 'ask' as const, reason: 'x' }, { name: 'auto', tools: ['refund_payment'], decision: 'allow' as const, reason: 'x' }] };
    expect(property({ agents: [triage], policy: askFirst }, 'approval').holds).toBe(true);
  });
});

describe('scopes', () => {
  it('records each narrowing delegation with both scope sets', () => {
    const reader = agent('reader', { scopes: ['docs:read'] });
    const lead = agent('lead', { scopes: ['docs:read', 'docs:write'], tools: [asTool(reader, { description: 'Reads.' })] });
    const result = property({ agents: [lead] }, 'scopes');
    expect(result.holds).toBe(true);
    expect(facts(result)).toEqual(['lead → asTool(reader): {docs:read} ⊆ {docs:read, docs:write}']);
  });

  it('fails a child declaring a scope its parent lacks, through a tool source', () => {
    const admin = agent('admin', { scopes: ['users:delete'] });
    const desk = agent('desk', { toolSources: [{ name: 'late', tools: () => [handoff(admin)] }] });
    const result = property({ agents: [desk] }, 'scopes');
    expect(paths(result)).toEqual(['desk → handoff(admin)']);
    expect(result.violations[0]?.message).toContain('{users:delete}');
  });
});

describe('planner steps', () => {
  it('follow a planner’s subagents as delegations, for scopes and bounds alike', () => {
    const analyst = agent('analyst', { scopes: ['db:read', 'db:write'] });
    const lead = agent('lead', { scopes: ['db:read'], planner: { maxSteps: 5, maxReplans: 1, subagents: [analyst] } });
    const report = checkSystem({ agents: [lead] });
    const scopes = report.properties.find((result) => result.id === 'scopes');
    expect(scopes?.violations.map((violation) => violation.path.join(' → '))).toEqual(['lead → planStep(analyst)']);
    const bounded = report.properties.find((result) => result.id === 'bounded');
    expect(bounded?.facts.map((fact) => `${fact.subject}: ${fact.statement}`)).toContain('lead: plans at most 5 steps and replans at most once; each step is a child session of a subagent or of the agent without its planner');
  });
});

describe('idempotency', () => {
  it('accepts idempotent, compensated and subagent tools, and ignores read tools', () => {
    const child = agent('child');
    const worker = agent('worker', {
      tools: [tool('send', { risk: 'write', idempotent: true }), tool('book', { risk: 'irreversible', compensate: () => 'cancelled' }), tool('look'), asTool(child, { description: 'Helps.' })],
    });
    const result = property({ agents: [worker] }, 'idempotency');
    expect(result.holds).toBe(true);
    expect(facts(result)).toEqual([
      'worker/send: write; declares idempotent: true (deduplicates on its idempotency key)',
      'worker/book: irreversible; declares a compensation',
      'worker/child: write; its child session (child) has an id derived from the call, so a re-run resumes or reads it',
    ]);
  });

  it('fails a write tool that declares neither, with the path to the agent holding it', () => {
    const worker = agent('worker', { tools: [tool('charge', { risk: 'write' })] });
    const lead = agent('lead', { tools: [asTool(worker, { description: 'Works.' })] });
    const result = property({ agents: [lead] }, 'idempotency');
    expect(paths(result)).toEqual(['lead → asTool(worker) → charge']);
  });
});

describe('outbound', () => {
  const search = tool('web_search', { provenance: 'web' });

  it('relies on information-flow control over the sink arguments of a write tool', () => {
    const mailer = agent('mailer', { tools: [search, tool('send_mail', { risk: 'write', outbound: true, idempotent: true, sinks: ['target'] })] });
    const result = property({ agents: [mailer] }, 'outbound');
    expect(result.holds).toBe(true);
    expect(facts(result)[0]).toContain('sink argument target traced to untrusted content → ask');
    expect(facts(result)[0]).toContain('web_search (web)');
  });

  it('fails an outbound read tool, one with sinks: [], and one whose agent turned information-flow control off', () => {
    const fetcher = agent('fetcher', { tools: [search, tool('fetch_url', { outbound: true })] });
    expect(paths(property({ agents: [fetcher] }, 'outbound'))).toEqual(['fetcher → fetch_url']);
    const noSinks = agent('poster', { tools: [tool('post', { risk: 'write', outbound: true, idempotent: true, sinks: [] })] });
    expect(property({ agents: [noSinks] }, 'outbound').violations[0]?.message).toContain('sinks: []');
    const off = agent('unguarded', { injection: false, tools: [tool('post', { risk: 'write', outbound: true, idempotent: true })] });
    expect(property({ agents: [off] }, 'outbound').violations[0]?.message).toContain('information-flow control is off');
  });

  it('accepts an outbound tool the policy always sends for approval', () => {
    const fetcher = agent('fetcher', { tools: [search, tool('fetch_url', { outbound: true })] });
    const policy = { rules: [{ name: 'review-fetches', tools: ['fetch_url'], decision: 'ask' as const, reason: 'A person checks each URL.' }] };
    const result = property({ agents: [fetcher], policy }, 'outbound');
    expect(result.holds).toBe(true);
    expect(facts(result)[0]).toContain('sent for approval by rule "review-fetches"');
  });
});

describe('outbound: the provider-hosted web_fetch', () => {
  const hosted = (allowedDomains?: string[]): AgentDefinition =>
    agent('browser', { scopes: ['hosted:web_fetch'], tools: [tool('notes')], modelSettings: { hostedTools: [{ name: 'web_fetch', ...(allowedDomains === undefined ? {} : { allowedDomains }) }] } });

  it('fails without allowedDomains, holds with them, and holds when the policy refuses the run', () => {
    const open = property({ agents: [hosted()] }, 'outbound');
    expect(paths(open)).toEqual(['browser → web_fetch (hosted)']);
    expect(open.violations[0]?.message).toContain('notes (tool)');
    expect(facts(property({ agents: [hosted(['docs.example.com'])] }, 'outbound'))).toEqual(['browser/web_fetch (hosted): the provider fetches only from docs.example.com (allowedDomains)']);
    const refused = { rules: [{ name: 'no-fetch', sources: ['hosted'], decision: 'deny' as const, reason: 'No hosted fetches.' }] };
    expect(property({ agents: [hosted()], policy: refused }, 'outbound').holds).toBe(true);
  });
});

describe('budgets', () => {
  it('fails a slice larger than the root budget, and one larger than a slice above it', () => {
    const leaf = agent('leaf');
    const middle = agent('middle', { tools: [asTool(leaf, { description: 'Leaf.', budget: { tokens: 50_000 } })] });
    const top = agent('top', { tools: [asTool(middle, { description: 'Middle.', budget: { tokens: 20_000 } })] });
    const result = property({ agents: [top], budget: { tokens: 30_000 } }, 'budgets');
    expect(paths(result)).toEqual(['top → asTool(middle) → asTool(leaf)']);
    expect(result.violations[0]?.message).toContain('20000, the budget top → asTool(middle) gives');
    const overRoot = property({ agents: [top], budget: { tokens: 10_000 } }, 'budgets');
    expect(paths(overRoot)).toEqual(['top → asTool(middle)', 'top → asTool(middle) → asTool(leaf)']);
  });

  it('fails a child whose own cost limit or deadline exceeds its parent’s', () => {
    const child = agent('child', { limits: { maxCostUsd: 5, deadlineMs: 600_000 } });
    const parent = agent('parent', { limits: { maxCostUsd: 1, deadlineMs: 60_000 }, tools: [asTool(child, { description: 'Child.' })] });
    const result = property({ agents: [parent] }, 'budgets');
    expect(result.violations.map((violation) => violation.message.split('.')[0])).toEqual([
      "asTool(child): cost (USD) 5 (the child's own limit) is more than its parent parent has: 1, the limit of agent parent",
      "asTool(child): time (ms) 600000 (the child's own deadline) is more than its parent parent has: 60000, the deadline of agent parent",
    ]);
  });

  it('holds when every slice fits, and says against what', () => {
    const child = agent('child', { limits: { maxCostUsd: 0.5 } });
    const parent = agent('parent', { limits: { maxCostUsd: 1 }, tools: [asTool(child, { description: 'Child.', budget: { tokens: 1_000 } })] });
    const result = property({ agents: [parent] }, 'budgets');
    expect(result.holds).toBe(true);
    expect(facts(result)).toEqual([
      'parent → asTool(child): tokens: 1000 (the slice it gives); nothing above parent bounds tokens, so it fits',
      "parent → asTool(child): cost (USD): 0.5 (the child's own limit) ≤ 1, the limit of agent parent",
    ]);
  });
});

describe('workflows and the system', () => {
  it('follows a workflow’s agent steps to the agents the system exports', () => {
    const writer = agent('writer', { tools: [tool('publish', { risk: 'write' })] });
    const workflow = chain<string>('report').then(agentStep(writer));
    const report = checkSystem({ workflows: [workflow], agents: [writer] });
    expect(report.counts).toEqual({ agents: 1, workflows: 1, tools: 1, delegations: 1 });
    expect(report.properties.find((result) => result.id === 'idempotency')?.violations.map((violation) => violation.path.join(' → '))).toEqual(['writer → publish']);
  });

  it('refuses a workflow whose agent is not exported, and a system with nothing in it', () => {
    const workflow = chain<string>('report').then(agentStep(agent('ghost')));
    expect(() => checkSystem({ workflows: [workflow] })).toThrow(/runs agent "ghost" in step report\/ghost/);
    expect(() => checkSystem({})).toThrow(/Nothing to check/);
  });

  it('names the agent whose tool source fails to list its tools', () => {
    const offline = agent('offline', { toolSources: [{ name: 'crm', tools: () => { throw new Error('not connected'); } }] });
    expect(() => checkSystem({ agents: [offline] })).toThrow(/Agent "offline": listing its tools failed \(not connected\)/);
  });
});
