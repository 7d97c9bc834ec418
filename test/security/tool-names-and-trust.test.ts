import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createKeel, defineAgent } from '../../src/index.ts';
import { createScriptedModel } from '../../src/model/index.ts';
import { isKeelError } from '../../src/errors/index.ts';
import { createToolPolicy } from '../../src/security/tool-policy.ts';
import type { PolicyRule, PolicyTool } from '../../src/security/tool-policy.ts';
import { normalizeToolName, unsafeToolNameCharacter } from '../../src/security/tool-name.ts';
import { connectMcpServer, defineTool } from '../../src/tools/index.ts';
import type { McpToolSource, ToolDefinition } from '../../src/tools/index.ts';
import { resolveMcpServerConfig } from '../../src/tools/mcp/mcp-server-config.ts';
import type { McpServerConfig } from '../../src/tools/mcp/mcp-server-config.ts';
import { toMcpToolDefinitions } from '../../src/tools/mcp/mcp-tool-definition.ts';
import { createAuthorizeStage } from '../../src/tools/stages/authorize.ts';
import { createRateLimitStage } from '../../src/tools/stages/rate-limit.ts';
import type { DecisionOutcome, ToolInvocation } from '../../src/tools/pipeline/tool-invocation.ts';
import { FakeClock } from '../../src/testing/fake-clock.ts';
import { referenceServerEntry } from '../mcp/mcp-test-support.ts';

/** Spellings a server could use for the tool a rule calls `delete_file`. */
const evasions = ['Delete_File', 'DELETE-FILE', 'delete.file', 'delete file', 'deleteFile', 'ｄｅｌｅｔｅ＿ｆｉｌｅ', 'delete\u200bfile', 'dele\u00adte_file', 'delete\u2010file'];

const noCall = async (): Promise<unknown> => 'unused';

function serverTools(config: Partial<McpServerConfig>, listed: readonly unknown[]) {
  return toMcpToolDefinitions(resolveMcpServerConfig({ name: 'srv', transport: { kind: 'stdio', command: 'unused' }, ...config }), listed, noCall);
}

function entry(name: string, annotations?: Record<string, boolean>) {
  return { name, inputSchema: { type: 'object' }, ...(annotations === undefined ? {} : { annotations }) };
}

function policyTool(name: string, overrides: Partial<PolicyTool> = {}): PolicyTool {
  return { name, risk: 'write', scopes: [], source: 'mcp:srv', ...overrides };
}

const denyDelete: PolicyRule = { name: 'no-deletes', tools: ['srv__delete_file'], decision: 'deny', reason: 'Deleting is not allowed.' };

describe('one normalized name for every rule match', () => {
  it('normalizes every evasion to the rule\'s own name', () => {
    for (const name of evasions) expect(normalizeToolName(name), JSON.stringify(name)).toBe(normalizeToolName('delete_file'));
    expect(normalizeToolName('delete_files')).not.toBe(normalizeToolName('delete_file'));
  });

  it('lets no spelling dodge a policy rule by list, pattern or risk override check', () => {
    const policy = createToolPolicy({ rules: [denyDelete, { name: 'no-drops', tools: /drop_table/, decision: 'deny', reason: 'No drops.' }] });
    for (const name of evasions) {
      const verdict = policy.evaluate({ agent: { name: 'a', scopes: [] }, tool: policyTool(`srv__${name}`), input: {} });
      expect(verdict, name).toMatchObject({ decision: 'deny', rule: 'no-deletes' });
    }
    for (const name of ['srv__Drop_Table', 'srv__DROP-TABLE', 'srv__drop.table']) {
      expect(policy.evaluate({ agent: { name: 'a', scopes: [] }, tool: policyTool(name), input: {} }).rule, name).toBe('no-drops');
    }
    expect(policy.evaluate({ agent: { name: 'a', scopes: [] }, tool: policyTool('srv__delete_files'), input: {} }).rule).toBe('default');
  });

  it('applies a riskOverrides entry to every spelling the server lists', () => {
    for (const name of evasions.filter((spelling) => unsafeToolNameCharacter(spelling) === null)) {
      const { tools, skipped } = serverTools({ riskOverrides: { delete_file: 'irreversible' } }, [entry(name, { readOnlyHint: true })]);
      expect(skipped, name).toEqual([]);
      expect(tools[0]?.risk, name).toBe('irreversible');
    }
  });

  it('refuses two riskOverrides spellings of one name with different risks', () => {
    let error: unknown;
    try {
      resolveMcpServerConfig({ name: 'srv', transport: { kind: 'stdio', command: 'x' }, riskOverrides: { delete_file: 'read', 'Delete-File': 'irreversible' } });
    } catch (caught) {
      error = caught;
    }
    expect(isKeelError(error, 'invalid-config')).toBe(true);
    expect((error as Error).message).toContain('"delete_file" and "Delete-File"');
  });

  it('keys rate limits by the normalized name, so respelling a tool does not buy a fresh bucket', async () => {
    const stage = createRateLimitStage({ perAgent: null, perAgentTool: null, tools: { send_email: { capacity: 2, refillPerSecond: 0.001 } }, clock: new FakeClock() });
    const allowed: DecisionOutcome = { decision: 'allow', rule: 'default', reason: 'ok' };
    const next = vi.fn(async () => allowed);
    const call = (name: string) => stage(invocationOf(defineTool({ name, description: name, input: z.object({}), execute: () => 'ok' })), next);
    expect((await call('send_email')).decision).toBe('allow');
    expect((await call('Send-Email')).decision).toBe('allow');
    expect(await call('SEND_EMAIL')).toMatchObject({ decision: 'deny', rule: 'rate-limit:agent-tool' });
    expect(next).toHaveBeenCalledTimes(2);
  });
});

describe('tool names refused at registration', () => {
  it('refuses names with invisible or non-printing characters, naming server and tool, and loads the rest', () => {
    const listed = [entry('read_file'), entry('delete\u200bfile'), entry('\u202eelif_etirw'), entry('ring\u0007bell'), entry('wide\u3000space'), entry('hangul\u3164filler'), entry('list_files')];
    const { tools, skipped } = serverTools({}, listed);
    expect(tools.map((tool) => tool.name)).toEqual(['srv__read_file', 'srv__list_files']);
    expect(skipped).toHaveLength(5);
    expect(skipped[0]?.name).toBe('delete\\u{200B}file');
    expect(skipped[0]?.reason).toContain('MCP server "srv" lists tool "delete\\u{200B}file"');
    expect(skipped[0]?.reason).toContain('U+200B');
    expect(skipped.map((tool) => /U\+[0-9A-F]{4}/.exec(tool.reason)?.[0])).toEqual(['U+200B', 'U+202E', 'U+0007', 'U+3000', 'U+3164']);
  });

  it('refuses a name longer than MCP allows without quoting it whole', () => {
    const { tools, skipped } = serverTools({}, [entry('n'.repeat(1_000_000)), entry('ok')]);
    expect(tools.map((tool) => tool.name)).toEqual(['srv__ok']);
    expect(skipped[0]?.reason).toContain('whose name is 1000000 characters long; MCP allows at most 128');
    expect(skipped[0]?.reason.length).toBeLessThan(500);
    expect(skipped[0]?.name.length).toBeLessThan(300);
  });

  it('refuses a later tool whose name collides with an earlier one once normalized', () => {
    const { tools, skipped } = serverTools({}, [entry('delete_file'), entry('Delete-File'), entry('ｄｅｌｅｔｅ＿ｆｉｌｅ')]);
    expect(tools.map((tool) => tool.name)).toEqual(['srv__delete_file']);
    expect(skipped.map((tool) => tool.reason)).toEqual([
      expect.stringContaining('MCP server "srv" lists tool "Delete-File", whose name is the same as its tool "delete_file"'),
      expect.stringContaining('whose name is the same as its tool "delete_file"'),
    ]);
  });
});

function invocationOf(tool: ToolDefinition): ToolInvocation {
  return { sessionId: 's', turn: 1, callId: 'c', idempotencyKey: 'k', agent: { name: 'agent', scopes: [] }, tool, input: {}, signal: new AbortController().signal };
}

async function decisionFor(tool: ToolDefinition, rules: readonly PolicyRule[] = []): Promise<DecisionOutcome> {
  const allowed: DecisionOutcome = { decision: 'allow', rule: 'default', reason: 'ok' };
  return createAuthorizeStage({ rules })(invocationOf(tool), async () => allowed);
}

describe('servers the agent was not told to trust', () => {
  const listed = [entry('lookup', { readOnlyHint: true }), entry('bare'), entry('purge', { destructiveHint: true }), entry('pinned', { readOnlyHint: true })];

  it('asks a person before any of their tools runs, read-only claims and missing annotations alike', async () => {
    const { tools } = serverTools({ riskOverrides: { pinned: 'read' } }, listed);
    const decisions = await Promise.all(tools.map(async (tool) => `${tool.name}:${tool.risk}:${(await decisionFor(tool)).rule}`));
    expect(decisions).toEqual(['srv__lookup:write:untrusted-source', 'srv__bare:write:untrusted-source', 'srv__purge:irreversible:risk:irreversible', 'srv__pinned:read:default']);
    expect((await decisionFor(tools[0] as ToolDefinition)).decision).toBe('ask');
    expect((await decisionFor(tools[0] as ToolDefinition)).reason).toContain('not trusted');
  });

  it('believes a trusted server\'s annotations', async () => {
    const { tools } = serverTools({ trust: 'trusted' }, listed);
    expect(tools.map((tool) => `${tool.name}:${tool.risk}:${tool.requiresApproval === true}`)).toEqual(['srv__lookup:read:false', 'srv__bare:write:false', 'srv__purge:irreversible:false', 'srv__pinned:read:false']);
    expect((await decisionFor(tools[0] as ToolDefinition)).decision).toBe('allow');
  });

  it('lets only a rule aimed at the tool or its source skip the approval, never a broad allow', async () => {
    const [lookup] = serverTools({}, listed).tools;
    if (lookup === undefined) throw new Error('no lookup tool');
    expect((await decisionFor(lookup, [{ name: 'agent-may', agents: ['agent'], decision: 'allow', reason: 'ok' }])).decision).toBe('ask');
    expect((await decisionFor(lookup, [{ name: 'writes-ok', risk: ['write'], decision: 'allow', reason: 'ok' }])).decision).toBe('ask');
    expect(await decisionFor(lookup, [{ name: 'lookup-ok', tools: ['SRV__Lookup'], decision: 'allow', reason: 'ok' }])).toMatchObject({ decision: 'allow', rule: 'lookup-ok' });
    expect(await decisionFor(lookup, [{ name: 'srv-ok', sources: ['mcp:srv'], decision: 'allow', reason: 'ok' }])).toMatchObject({ decision: 'allow', rule: 'srv-ok' });
  });

  it('refuses a trust setting that is neither trusted nor untrusted', () => {
    expect(() => resolveMcpServerConfig({ name: 'srv', transport: { kind: 'stdio', command: 'x' }, trust: 'yes' as never })).toThrow(/trust must be "trusted" or "untrusted"/);
  });
});

describe('an untrusted reference server through the runtime', () => {
  let everything: McpToolSource;
  beforeAll(async () => {
    everything = await connectMcpServer({ name: 'everything', transport: { kind: 'stdio', command: process.execPath, args: [referenceServerEntry('@modelcontextprotocol/server-everything'), 'stdio'] } });
  }, 30_000);
  afterAll(async () => {
    await everything.close();
  });

  it('waits for approval instead of running its tool under the default policy', async () => {
    const assistant = (content: unknown[]) => ({ role: 'assistant', model: 'claude-sonnet-4-6', content, usage: { input_tokens: 100, output_tokens: 10 } }) as never;
    const model = createScriptedModel([assistant([{ type: 'tool_use', id: 'toolu_1', name: 'everything__echo', input: { message: 'hi' } }]), assistant([{ type: 'text', text: 'ok' }])]) as never;
    const keel = createKeel({ database: ':memory:', model });
    try {
      const result = await keel.run(defineAgent({ name: 'careful', instructions: 'x', toolSources: [everything] }), 'go').result;
      expect(result.status).toBe('awaiting-approval');
      expect(result.pendingApprovals.map((pending) => pending.tool)).toEqual(['everything__echo']);
      const decision = (await keel.events(result.sessionId)).find((event) => event.type === 'tool-decision');
      expect(decision).toMatchObject({ decision: 'ask', rule: 'untrusted-source' });
    } finally {
      await keel.close();
    }
  }, 30_000);
});
