import { describe, expect, it } from 'vitest';
import { checkSystem } from '../../src/check/index.ts';
import { defineAgent } from '../../src/loop/index.ts';
import { resolveMcpServerConfig } from '../../src/tools/mcp/mcp-server-config.ts';
import { toMcpToolDefinitions } from '../../src/tools/mcp/mcp-tool-definition.ts';

// An MCP server's tools cannot declare idempotent themselves: a trusted server's idempotentHint does it for them.

const listed = [
  { name: 'upsert_record', inputSchema: { type: 'object', properties: { id: { type: 'string' } } }, annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true } },
  { name: 'append_log', inputSchema: { type: 'object', properties: { line: { type: 'string' } } }, annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false } },
];
const noCall = async (): Promise<unknown> => 'unused';

function idempotencyOf(trust: 'trusted' | 'untrusted'): { paths: string[]; messages: string[] } {
  const config = resolveMcpServerConfig({ name: 'crm', transport: { kind: 'stdio', command: 'unused' }, trust });
  const { tools } = toMcpToolDefinitions(config, listed, noCall);
  const agent = defineAgent({ name: 'clerk', instructions: 'Keep records.', toolSources: [{ name: 'crm', tools: () => tools }] });
  const result = checkSystem({ agents: [agent] }).properties.find((property) => property.id === 'idempotency');
  return { paths: result?.violations.map((violation) => violation.path.join(' → ')) ?? [], messages: result?.violations.map((violation) => violation.message) ?? [] };
}

describe('MCP tools and the idempotency property', () => {
  it('accepts a write tool a trusted server marks idempotentHint, and names the one it does not', () => {
    expect(idempotencyOf('trusted').paths).toEqual(['clerk → crm__append_log']);
  });

  it('takes no hint from an untrusted server', () => {
    const untrusted = idempotencyOf('untrusted');
    expect(untrusted.paths).toEqual(['clerk → crm__upsert_record', 'clerk → crm__append_log']);
    expect(untrusted.messages[0]).toContain('MCP server "crm", which does not vouch that repeating a call is harmless');
  });
});
