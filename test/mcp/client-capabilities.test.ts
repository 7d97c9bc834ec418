import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isKeelError, type KeelError } from '../../src/errors/index.ts';
import { createScriptedModel } from '../../src/model/scripted-model.ts';
import type { ModelRequest } from '../../src/spec/model.ts';
import type { ToolContext } from '../../src/tools/index.ts';
import { connectMcpServer, ElicitationInbox, type McpToolSource, type SamplingRecord } from '../../src/tools/mcp/index.ts';
import { startCapabilitiesFixture, type CapabilitiesFixture } from './fixtures/capabilities-fixture.ts';
import { caught, findTool } from './mcp-test-support.ts';

function context(idempotencyKey: string, signal: AbortSignal = new AbortController().signal): ToolContext {
  return { sessionId: 'session-1', turn: 1, callId: `call-${idempotencyKey}`, idempotencyKey, signal };
}

describe('MCP client capabilities and results', () => {
  let fixture: CapabilitiesFixture;
  let source: McpToolSource;
  let scratch: string;
  const samples: SamplingRecord[] = [];
  const modelRequests: ModelRequest[] = [];
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'keel-mcp-capabilities-'));
    fixture = await startCapabilitiesFixture();
    const scripted = createScriptedModel([{ content: [{ type: 'text', text: 'It shipped.' }], model: 'scripted-summary' }]);
    const model = { ...scripted, generate: (request: ModelRequest, signal: AbortSignal) => (modelRequests.push(request), scripted.generate(request, signal)) };
    source = await connectMcpServer({
      name: 'shop',
      transport: { kind: 'http', url: fixture.url },
      trust: 'trusted',
      riskOverrides: { report: 'read', chart: 'read', roots: 'read', peek: 'read' },
      roots: [{ uri: `file://${scratch}`, name: 'work' }],
      elicitation: { inbox: join(scratch, 'requests'), waitMs: 400, pollMs: 10 },
      sampling: { model, maxTokensPerRequest: 256, maxRequests: 1, onSample: (record) => samples.push(record) },
      timeoutMs: 10_000,
    });
  });
  afterAll(async () => {
    await source?.close();
    await fixture?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('declares roots, form elicitation with defaults, and sampling in initialize, and answers roots/list', async () => {
    expect(fixture.lastCapabilities).toEqual({ roots: { listChanged: false }, elicitation: { form: { applyDefaults: true } }, sampling: {} });
    const roots = await findTool(source, 'shop__roots').execute({}, context('roots'));
    expect(JSON.parse(String(roots))).toEqual([{ uri: `file://${scratch}`, name: 'work' }]);
  });

  it('turns an elicitation into a durable pending request a person answers later, validated, and reused by the retried call', async () => {
    const ask = findTool(source, 'shop__ask');
    // Nobody answers in time: the server is told `cancel`, and the question stays pending on disk.
    const first = await ask.execute({}, context('order-7'));
    expect(JSON.parse(String(first))).toEqual({ action: 'cancel' });
    // Another process (the `keel mcp answer` command) sees it through its own inbox on the same folder.
    const person = new ElicitationInbox(join(scratch, 'requests'));
    const pending = person.list({ status: 'pending' });
    expect(pending).toHaveLength(1);
    expect(pending[0]).toMatchObject({ server: 'shop', message: 'How should the order ship?', sessionId: 'session-1', tool: 'ask', callId: 'call-order-7' });
    expect(statSync(join(scratch, 'requests', `${pending[0]?.id ?? ''}.json`)).mode & 0o777).toBe(0o600);
    const id = pending[0]?.id ?? '';
    const invalid = await caught(() => person.answer(id, { action: 'accept', content: { speed: 'teleport' } }, 'ada'));
    expect(isKeelError(invalid, 'invalid-argument')).toBe(true);
    expect((invalid as KeelError).message).toContain('speed must be one of "standard", "express"');
    person.answer(id, { action: 'accept', content: { speed: 'express' } }, 'ada');
    expect(isKeelError(await caught(() => person.answer(id, { action: 'decline' }, 'bob')), 'approval-not-pending')).toBe(true);
    // The call runs again (a resume, same idempotency key): the stored answer is used, the default filled in, no new question.
    const second = await ask.execute({}, context('order-7'));
    expect(JSON.parse(String(second))).toEqual({ action: 'accept', content: { speed: 'express', gift: false } });
    expect(person.list()).toHaveLength(1);
  });

  it('routes sampling to Keel’s model with the output capped, and refuses past the request budget', async () => {
    const summarize = findTool(source, 'shop__summarize');
    expect(await summarize.execute({}, context('sum-1'))).toBe('scripted-summary: It shipped.');
    expect(modelRequests.at(-1)?.maxOutputTokens).toBe(256);
    expect(modelRequests.at(-1)?.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Summarize: the order shipped.' }] }]);
    expect(samples).toEqual([expect.objectContaining({ server: 'shop', model: 'scripted-summary', sessionId: 'session-1', callId: 'call-sum-1' })]);
    const refused = await caught(() => summarize.execute({}, context('sum-2')));
    expect(isKeelError(refused, 'tool-failed')).toBe(true);
    expect((refused as KeelError).message).toContain('used its 1 sampling requests');
    expect(modelRequests).toHaveLength(1);
  });

  it('checks structured results against the output schema', async () => {
    const report = findTool(source, 'shop__report');
    expect(await report.execute({ broken: false }, context('report-1'))).toEqual({ count: 3 });
    const error = await caught(() => report.execute({ broken: true }, context('report-2')));
    expect(isKeelError(error, 'tool-failed')).toBe(true);
    expect((error as KeelError).message).toContain('does not match its output schema');
    expect((error as KeelError).message).toContain('count');
  });

  it('summarizes base64 media inside structured content instead of passing it to the model', async () => {
    const chart = await findTool(source, 'shop__chart').execute({}, context('chart-1'));
    expect(chart).toEqual({ title: 'sales', image: '[image: image/png, 16 bytes]', preview: '[image: image/png, 16 bytes]' });
  });

  it('reopens a lost HTTP session and sends the call again', async () => {
    await fixture.forgetSessions();
    const before = fixture.calls.get('report') ?? 0;
    expect(await findTool(source, 'shop__report').execute({ broken: false }, context('report-3'))).toEqual({ count: 3 });
    expect(fixture.calls.get('report')).toBe(before + 1);
    expect(source.status().state).toBe('connected');
  });

  it('does not send a write call again when the connection dropped while the server had it', async () => {
    const slow = findTool(source, 'shop__slow');
    expect(slow.risk).toBe('write');
    const before = fixture.calls.get('slow') ?? 0;
    const pending = caught(() => slow.execute({ ms: 2_000 }, context('slow-1')));
    await expect.poll(() => fixture.calls.get('slow') ?? 0).toBe(before + 1);
    fixture.dropConnections();
    const error = await pending;
    expect(error).toMatchObject({ code: 'mcp-unavailable' });
    expect((error as KeelError).message).toContain('stopped answering during MCP tool "slow"');
    expect(fixture.calls.get('slow')).toBe(before + 1);
  });

  it('sends a read-only call again on a new session when the connection dropped while the server had it', async () => {
    const before = fixture.calls.get('peek') ?? 0;
    const pending = findTool(source, 'shop__peek').execute({ ms: 300 }, context('peek-1'));
    await expect.poll(() => fixture.calls.get('peek') ?? 0).toBe(before + 1);
    fixture.dropConnections();
    expect(await pending).toBe('peek done');
    expect(fixture.calls.get('peek')).toBe(before + 2);
  });
});
