import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeel, defineAgent } from '../../src/index.ts';
import { createScriptedModel } from '../../src/model/index.ts';
import { connectMcpServer } from '../../src/tools/index.ts';
import type { McpToolSource } from '../../src/tools/index.ts';
import type { SessionEvent } from '../../src/spec/index.ts';
import { validateJournal } from '../../src/store/index.ts';
import { referenceServerEntry } from './mcp-test-support.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-mcp-pipeline-'));
let everything: McpToolSource;
let filesystem: McpToolSource;

beforeAll(async () => {
  writeFileSync(join(scratch, 'notes.txt'), 'Contact ops at oncall@example.com about the outage.');
  // Trusted on purpose: this test follows calls through every stage; the untrusted default (every call asks a person)
  // is covered in test/security/tool-names-and-trust.test.ts.
  everything = await connectMcpServer({ name: 'everything', trust: 'trusted', transport: { kind: 'stdio', command: process.execPath, args: [referenceServerEntry('@modelcontextprotocol/server-everything'), 'stdio'] } });
  filesystem = await connectMcpServer({
    name: 'files',
    trust: 'trusted',
    transport: { kind: 'stdio', command: process.execPath, args: [referenceServerEntry('@modelcontextprotocol/server-filesystem'), scratch] },
    scopes: ['files'],
  });
}, 30_000);

afterAll(async () => {
  await everything.close();
  await filesystem.close();
  rmSync(scratch, { recursive: true, force: true });
});

function assistant(content: unknown[]) {
  return { role: 'assistant', model: 'claude-sonnet-4-6', content, usage: { input_tokens: 100, output_tokens: 10 } } as never;
}

describe('MCP tools through the whole pipeline', () => {
  it('validates, authorizes, runs, sanitizes and audits calls to real reference servers', async () => {
    const model = createScriptedModel([
      assistant([
        { type: 'tool_use', id: 'toolu_1', name: 'everything__echo', input: { message: 'hello from keel' } },
        { type: 'tool_use', id: 'toolu_2', name: 'everything__get-sum', input: { a: 2, b: 40 } },
        { type: 'tool_use', id: 'toolu_3', name: 'everything__get-sum', input: { a: 'two' } },
        { type: 'tool_use', id: 'toolu_4', name: 'files__read_text_file', input: { path: join(scratch, 'notes.txt') } },
        { type: 'tool_use', id: 'toolu_5', name: 'files__write_file', input: { path: join(scratch, 'x.txt'), content: 'x' } },
      ]),
      assistant([{ type: 'text', text: 'Done.' }]),
    ]) as never;
    const keel = createKeel({ database: ':memory:', model });
    const agent = defineAgent({ name: 'mcp-user', instructions: 'Use the tools.', toolSources: [everything, filesystem], scopes: ['files'] });
    const run = keel.run(agent, 'go');
    const result = await run.result;
    expect(result.status).toBe('awaiting-approval');
    // write_file is destructive by annotation, so it became irreversible and waits for a person.
    expect(result.pendingApprovals.map((pending) => pending.tool)).toEqual(['files__write_file']);
    const events = await keel.events(result.sessionId);
    const outcome = (callId: string) => events.find((event): event is Extract<SessionEvent, { type: 'tool-result' | 'tool-error' }> => (event.type === 'tool-result' || event.type === 'tool-error') && event.callId === callId);
    expect(outcome('toolu_1')).toMatchObject({ type: 'tool-result', output: expect.stringContaining('hello from keel') });
    expect(outcome('toolu_2')).toMatchObject({ type: 'tool-result', output: expect.stringContaining('42') });
    expect(outcome('toolu_3')).toMatchObject({ type: 'tool-error', error: { code: 'tool-invalid-input' } });
    const file = outcome('toolu_4');
    expect(file?.type).toBe('tool-result');
    // Tool output from a server is untrusted: personal data is redacted before the model reads it.
    expect(file?.type === 'tool-result' && file.output).toContain('[REDACTED:email]');
    expect(file?.type === 'tool-result' && file.output).not.toContain('oncall@example.com');

    const rejected = await keel.decide(agent, result.sessionId, 'toolu_5', { approved: false, approver: 'sam', reason: 'no writes today' });
    expect((await rejected.result).status).toBe('completed');
    const decisions = (await keel.events(result.sessionId)).filter((event) => event.type === 'tool-decision');
    expect(decisions.map((event) => (event.type === 'tool-decision' ? `${event.tool}:${event.decision}:${event.rule}` : ''))).toEqual([
      'everything__echo:allow:default',
      'everything__get-sum:allow:default',
      'everything__get-sum:deny:schema',
      'files__read_text_file:allow:default',
      'files__write_file:ask:risk:irreversible',
    ]);
    expect(validateJournal(await keel.events(result.sessionId)).problems).toEqual([]);
    const verification = await keel.audit.verify();
    expect(verification.ok).toBe(true);
    const records = [];
    for await (const record of keel.audit.read()) records.push(record);
    expect(records.map((record) => `${record.tool}:${record.decision}`).sort()).toEqual(
      ['everything__echo:allow', 'everything__get-sum:allow', 'everything__get-sum:deny', 'files__read_text_file:allow', 'files__write_file:deny'].sort(),
    );
    await keel.close();
  }, 30_000);

  it('denies a server tool whose scope the agent lacks', async () => {
    const model = createScriptedModel([assistant([{ type: 'tool_use', id: 'toolu_1', name: 'files__list_allowed_directories', input: {} }]), assistant([{ type: 'text', text: 'ok' }])]) as never;
    const keel = createKeel({ database: ':memory:', model });
    const result = await keel.run(defineAgent({ name: 'no-scope', instructions: 'x', toolSources: [filesystem] }), 'go').result;
    const events = await keel.events(result.sessionId);
    expect(events.find((event) => event.type === 'tool-error')).toMatchObject({ error: { code: 'tool-denied' } });
    await keel.close();
  }, 30_000);
});
