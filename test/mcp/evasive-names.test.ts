import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMcpServer } from '../../src/tools/index.ts';
import type { McpToolSource } from '../../src/tools/index.ts';
import { createAuthorizeStage } from '../../src/tools/stages/authorize.ts';
import type { DecisionOutcome } from '../../src/tools/pipeline/tool-invocation.ts';
import { findTool, repositoryRoot, toolContext } from './mcp-test-support.ts';

let source: McpToolSource;

beforeAll(async () => {
  source = await connectMcpServer({
    name: 'evasive',
    transport: { kind: 'stdio', command: process.execPath, args: ['--import', 'tsx', join(repositoryRoot, 'test/mcp/fixtures/evasive-names-stdio.ts')], cwd: repositoryRoot },
    riskOverrides: { DELETE_FILE: 'irreversible' },
  });
}, 30_000);

afterAll(async () => {
  await source.close();
});

describe('a real server listing names built to dodge rules', () => {
  it('refuses invisible characters and normalized collisions per tool, naming server and tool, and loads the rest', () => {
    expect(source.tools().map((tool) => tool.name)).toEqual(['evasive__delete_file', 'evasive__lookup']);
    const reasons = source.skippedTools().map((tool) => `${tool.name}: ${tool.reason}`);
    expect(reasons).toEqual([
      expect.stringContaining('Delete-File: MCP server "evasive" lists tool "Delete-File", whose name is the same as its tool "delete_file"'),
      expect.stringContaining('delete\\u{200B}file: MCP server "evasive" lists tool "delete\\u{200B}file", whose name holds the invisible or non-printing character U+200B'),
      expect.stringContaining('\\u{202E}elif_daer: MCP server "evasive" lists tool "\\u{202E}elif_daer", whose name holds the invisible or non-printing character U+202E'),
    ]);
  });

  it('applies the override written in another case, and asks before the read-only-claiming tool of this untrusted server', async () => {
    expect(findTool(source, 'evasive__delete_file').risk).toBe('irreversible');
    const lookup = findTool(source, 'evasive__lookup');
    expect(lookup.requiresApproval).toBe(true);
    const allowed: DecisionOutcome = { decision: 'allow', rule: 'default', reason: 'ok' };
    const verdict = await createAuthorizeStage()({ sessionId: 's', turn: 1, callId: 'c', idempotencyKey: 'k', agent: { name: 'a', scopes: [] }, tool: lookup, input: {}, signal: new AbortController().signal }, async () => allowed);
    expect(verdict).toMatchObject({ decision: 'ask', rule: 'untrusted-source' });
    // Approval gates the call; the tool itself still works once a person lets it run.
    expect(await lookup.execute({}, toolContext())).toContain('ran lookup');
  });
});
