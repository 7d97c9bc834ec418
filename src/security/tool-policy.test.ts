import { describe, expect, it } from 'vitest';
import { createToolPolicy } from './tool-policy.ts';
import type { PolicyDecision, PolicyRequest, PolicyRule, ToolRisk } from './tool-policy.ts';

type RuleCase = 'no rule matches' | 'rule names tool: allow' | 'rule names tool: ask' | 'rule names tool: deny' | 'broad rule: allow';

const ruleFor: Record<RuleCase, PolicyRule[]> = {
  'no rule matches': [{ name: 'other-tool', tools: ['something_else'], decision: 'deny', reason: 'never matches here' }],
  'rule names tool: allow': [{ name: 'named-allow', tools: ['the_tool'], decision: 'allow', reason: 'trusted by name' }],
  'rule names tool: ask': [{ name: 'named-ask', tools: ['the_tool'], decision: 'ask', reason: 'a person looks first' }],
  'rule names tool: deny': [{ name: 'named-deny', tools: ['the_tool'], decision: 'deny', reason: 'switched off' }],
  // Matches by agent only: it must not switch off approval for irreversible tools.
  'broad rule: allow': [{ name: 'broad-allow', agents: ['support'], decision: 'allow', reason: 'this agent is trusted' }],
};

// Every cell of risk × scope granted × rule, written out rather than computed, so the table is the specification.
const matrix: readonly (readonly [ToolRisk, boolean, RuleCase, PolicyDecision, string])[] = [
  ['read', true, 'no rule matches', 'allow', 'default'],
  ['read', true, 'rule names tool: allow', 'allow', 'named-allow'],
  ['read', true, 'rule names tool: ask', 'ask', 'named-ask'],
  ['read', true, 'rule names tool: deny', 'deny', 'named-deny'],
  ['read', true, 'broad rule: allow', 'allow', 'broad-allow'],
  ['read', false, 'no rule matches', 'deny', 'scope:orders:write'],
  ['read', false, 'rule names tool: allow', 'deny', 'scope:orders:write'],
  ['read', false, 'rule names tool: ask', 'deny', 'scope:orders:write'],
  ['read', false, 'rule names tool: deny', 'deny', 'scope:orders:write'],
  ['read', false, 'broad rule: allow', 'deny', 'scope:orders:write'],
  ['write', true, 'no rule matches', 'allow', 'default'],
  ['write', true, 'rule names tool: allow', 'allow', 'named-allow'],
  ['write', true, 'rule names tool: ask', 'ask', 'named-ask'],
  ['write', true, 'rule names tool: deny', 'deny', 'named-deny'],
  ['write', true, 'broad rule: allow', 'allow', 'broad-allow'],
  ['write', false, 'no rule matches', 'deny', 'scope:orders:write'],
  ['write', false, 'rule names tool: allow', 'deny', 'scope:orders:write'],
  ['write', false, 'rule names tool: ask', 'deny', 'scope:orders:write'],
  ['write', false, 'rule names tool: deny', 'deny', 'scope:orders:write'],
  ['write', false, 'broad rule: allow', 'deny', 'scope:orders:write'],
  ['irreversible', true, 'no rule matches', 'ask', 'risk:irreversible'],
  ['irreversible', true, 'rule names tool: allow', 'allow', 'named-allow'],
  ['irreversible', true, 'rule names tool: ask', 'ask', 'named-ask'],
  ['irreversible', true, 'rule names tool: deny', 'deny', 'named-deny'],
  ['irreversible', true, 'broad rule: allow', 'ask', 'risk:irreversible'],
  ['irreversible', false, 'no rule matches', 'deny', 'scope:orders:write'],
  ['irreversible', false, 'rule names tool: allow', 'deny', 'scope:orders:write'],
  ['irreversible', false, 'rule names tool: ask', 'deny', 'scope:orders:write'],
  ['irreversible', false, 'rule names tool: deny', 'deny', 'scope:orders:write'],
  ['irreversible', false, 'broad rule: allow', 'deny', 'scope:orders:write'],
];

function request(risk: ToolRisk, scopeGranted: boolean, input: unknown = {}): PolicyRequest {
  return {
    agent: { name: 'support', scopes: scopeGranted ? ['orders:read', 'orders:write'] : ['orders:read'] },
    tool: { name: 'the_tool', risk, scopes: ['orders:read', 'orders:write'], source: 'local' },
    input,
  };
}

describe('tool policy matrix', () => {
  it('covers every cell of risk × scope × rule exactly once', () => {
    const cells = new Set(matrix.map(([risk, granted, rule]) => `${risk}|${granted}|${rule}`));
    expect(cells.size).toBe(3 * 2 * Object.keys(ruleFor).length);
    expect(matrix).toHaveLength(cells.size);
  });

  it.each(matrix)('%s tool, scope granted %s, %s → %s by %s', (risk, granted, ruleCase, decision, rule) => {
    const verdict = createToolPolicy({ rules: ruleFor[ruleCase] }).evaluate(request(risk, granted));
    expect({ decision: verdict.decision, rule: verdict.rule }).toEqual({ decision, rule });
    expect(verdict.reason.length).toBeGreaterThan(10);
  });
});

describe('tool policy', () => {
  it('says which scope is missing and how to grant it', () => {
    const verdict = createToolPolicy().evaluate({
      agent: { name: 'triage', scopes: [] },
      tool: { name: 'issue_refund', risk: 'irreversible', scopes: ['orders:write', 'payments:refund'], source: 'local' },
      input: {},
    });
    expect(verdict).toEqual({
      decision: 'deny',
      rule: 'scope:orders:write',
      reason: 'Agent "triage" lacks scope orders:write, which tool "issue_refund" requires (it also lacks payments:refund); grant it in defineAgent({ scopes }) if intended.',
    });
  });

  it('looks at the input: refunds over 100 ask, over 1000 are denied, smaller ones follow the default', () => {
    const amount = (input: unknown): number => (input as { amount: number }).amount;
    const policy = createToolPolicy({
      rules: [
        { name: 'refund-hard-limit', tools: ['issue_refund'], when: (input) => amount(input) > 1000, decision: 'deny', reason: (call) => `Refunds over 1000 are not allowed (asked for ${amount(call.input)}); escalate to finance.` },
        { name: 'refund-approval', tools: ['issue_refund'], when: (input) => amount(input) > 100, decision: 'ask', reason: 'Refunds over 100 need a person.' },
      ],
    });
    const refund = (value: number) => policy.evaluate({ agent: { name: 'support', scopes: [] }, tool: { name: 'issue_refund', risk: 'write', scopes: [], source: 'local' }, input: { amount: value } });
    expect(refund(50)).toMatchObject({ decision: 'allow', rule: 'default' });
    expect(refund(100)).toMatchObject({ decision: 'allow', rule: 'default' });
    expect(refund(100.01)).toMatchObject({ decision: 'ask', rule: 'refund-approval' });
    expect(refund(1000)).toMatchObject({ decision: 'ask', rule: 'refund-approval' });
    expect(refund(1500)).toEqual({ decision: 'deny', rule: 'refund-hard-limit', reason: 'Refunds over 1000 are not allowed (asked for 1500); escalate to finance.' });
  });

  it('takes the first matching rule in order', () => {
    const policy = createToolPolicy({
      rules: [
        { name: 'first', risk: ['write'], decision: 'ask', reason: 'first' },
        { name: 'second', tools: ['the_tool'], decision: 'deny', reason: 'second' },
      ],
    });
    expect(policy.evaluate(request('write', true)).rule).toBe('first');
    expect(policy.evaluate(request('read', true)).rule).toBe('second');
  });

  it('fails closed when a rule throws on the input', () => {
    const policy = createToolPolicy({ rules: [{ name: 'fragile', when: (input) => (input as { order: { id: string } }).order.id === 'x', decision: 'allow', reason: 'ok' }] });
    const verdict = policy.evaluate(request('read', true, {}));
    expect(verdict.decision).toBe('deny');
    expect(verdict.rule).toBe('fragile');
    expect(verdict.reason).toMatch(/Policy rule "fragile" failed on this input of tool "the_tool" \(.+\), so the call is denied/);
  });

  it('matches tool and source patterns the same way on every call, even with a global flag', () => {
    const policy = createToolPolicy({ rules: [{ name: 'mcp-writes', sources: /^mcp:/g, tools: /_tool$/g, risk: ['write'], decision: 'ask', reason: 'MCP tools that write need a person.' }] });
    const mcpRequest: PolicyRequest = { ...request('write', true), tool: { ...request('write', true).tool, source: 'mcp:files' } };
    for (let index = 0; index < 3; index += 1) expect(policy.evaluate(mcpRequest).rule).toBe('mcp-writes');
    expect(policy.evaluate(request('write', true)).rule).toBe('default');
  });

  it('lets an allow rule cover irreversible tools when it lists the risk', () => {
    const policy = createToolPolicy({ rules: [{ name: 'sandbox-agent', agents: ['support'], risk: ['irreversible'], decision: 'allow', reason: 'test tenant' }] });
    expect(policy.evaluate(request('irreversible', true))).toMatchObject({ decision: 'allow', rule: 'sandbox-agent' });
  });

  it('can make defaults stricter but never lets irreversible calls through by default', () => {
    const strict = createToolPolicy({ defaults: { write: 'ask', irreversible: 'deny', read: 'allow' } });
    expect(strict.evaluate(request('write', true))).toMatchObject({ decision: 'ask', rule: 'risk:write' });
    expect(strict.evaluate(request('irreversible', true))).toMatchObject({ decision: 'deny', rule: 'risk:irreversible' });
    expect(() => createToolPolicy({ defaults: { irreversible: 'allow' as never } })).toThrow(/defaults.irreversible cannot be "allow"/);
  });

  it('explains the irreversible default to the approver', () => {
    expect(createToolPolicy().evaluate(request('irreversible', true)).reason).toBe(
      'Tool "the_tool" is irreversible, so a person must approve this call before it runs; to run it without approval, add a rule that allows "the_tool" by name to the tool policy.',
    );
  });

  it('refuses rules that would make the audit log ambiguous or cannot decide', () => {
    const rule: PolicyRule = { name: 'ok', decision: 'allow', reason: 'fine' };
    expect(() => createToolPolicy({ rules: [{ ...rule, name: 'scope:mine' }] })).toThrow(/reserved/);
    expect(() => createToolPolicy({ rules: [{ ...rule, name: 'default' }] })).toThrow(/reserved/);
    expect(() => createToolPolicy({ rules: [rule, rule] })).toThrow(/two rules named "ok"/);
    expect(() => createToolPolicy({ rules: [{ ...rule, name: '' }] })).toThrow(/non-empty name/);
    expect(() => createToolPolicy({ rules: [{ ...rule, decision: 'maybe' as never }] })).toThrow(/decision must be one of/);
    expect(() => createToolPolicy({ rules: [{ ...rule, reason: ' ' }] })).toThrow(/needs a reason/);
    expect(() => createToolPolicy({ rules: [{ ...rule, risk: ['dangerous' as never] }] })).toThrow(/risk "dangerous"/);
  });
});
