import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createKeel, defineAgent, defineTool } from '../../src/index.ts';
import { startMockOpenAIServer } from '../../src/testing/mock-openai-server.ts';
import type { MockServer } from '../../src/testing/mock-http-server.ts';
import { connectMcpServer, type McpToolSource } from '../../src/tools/mcp/index.ts';
import { startCapabilitiesFixture, type CapabilitiesFixture } from '../mcp/fixtures/capabilities-fixture.ts';
import { otlpAttributes, receivedSpans, startOtlpReceiver, type OtlpReceiver, type OtlpSpan } from './helpers.ts';

// One real session, exported live over OTLP/HTTP to a receiver on 127.0.0.1: a streamed OpenAI-compatible model (a
// mock provider server), a local tool and a tool of a real MCP server over HTTP. Every attribute the GenAI and MCP
// semantic conventions (1.41.0) ask for is read back from the payload the receiver got.

describe('GenAI semantic conventions in the exported OTLP payload', () => {
  let receiver: OtlpReceiver;
  let provider: MockServer;
  let mcp: CapabilitiesFixture;
  let source: McpToolSource;
  let spans: OtlpSpan[];
  let resource: Record<string, unknown>;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    mcp = await startCapabilitiesFixture();
    source = await connectMcpServer({ name: 'shop', transport: { kind: 'http', url: mcp.url }, trust: 'trusted', riskOverrides: { report: 'read' } });
    provider = await startMockOpenAIServer({
      script: [
        { content: null, toolCalls: [{ id: 'call_local', name: 'lookup', arguments: { key: 'a' } }, { id: 'call_mcp', name: 'shop__report', arguments: { broken: false } }], usage: { prompt_tokens: 120, completion_tokens: 9 } },
        { content: 'There are 3.', usage: { prompt_tokens: 150, completion_tokens: 7 } },
      ],
    });
    const lookup = defineTool({ name: 'lookup', description: 'Looks a key up in the catalogue.', input: z.object({ key: z.string() }), risk: 'read', execute: () => '42' });
    const agent = defineAgent({
      name: 'counter',
      description: 'Counts things in the shop.',
      version: '2.1.0',
      instructions: 'Count.',
      tools: [lookup],
      toolSources: [source],
      maxOutputTokensPerCall: 512,
      modelSettings: { temperature: 0.2, topP: 0.9, stopSequences: ['END'] },
    });
    const keel = createKeel({
      database: ':memory:',
      model: `openai-compatible:gpt-test@${provider.baseURL}`,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OPENAI_API_KEY: 'test-key' },
    });
    const result = await keel.run(agent, 'How many?').result;
    expect(result.status).toBe('completed');
    await keel.close();
    const received = receivedSpans(receiver);
    spans = received.map(({ span }) => span);
    resource = received[0]?.resource ?? {};
  });
  afterAll(async () => {
    await source?.close();
    await mcp?.stop();
    await provider?.close();
    await receiver?.close();
  });
  const span = (name: string): OtlpSpan => {
    const found = spans.find((candidate) => candidate.name === name);
    if (found === undefined) throw new Error(`no span ${name}; have ${spans.map((candidate) => candidate.name).join(', ')}`);
    return found;
  };

  it('resource: the SDK name, language and version', () => {
    expect(resource).toMatchObject({ 'telemetry.sdk.name': 'keel', 'telemetry.sdk.language': 'nodejs', 'telemetry.sdk.version': '0.1.0' });
  });

  it('chat: server address and port, request parameters, time to first chunk', () => {
    const chat = otlpAttributes(span('chat gpt-test'));
    const url = new URL(provider.baseURL);
    expect(chat).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai-compatible',
      'server.address': url.hostname,
      'server.port': Number(url.port),
      'gen_ai.request.max_tokens': 512,
      'gen_ai.request.temperature': 0.2,
      'gen_ai.request.top_p': 0.9,
      'gen_ai.request.stop_sequences': ['END'],
      'gen_ai.request.stream': true,
    });
    expect(chat['gen_ai.response.time_to_first_chunk']).toBeGreaterThanOrEqual(0);
    expect(chat['gen_ai.response.time_to_first_chunk']).toBeLessThan(60);
  });

  it('invoke_agent: agent id, name, description and version', () => {
    const root = otlpAttributes(span('invoke_agent counter'));
    expect(root).toMatchObject({ 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'counter', 'gen_ai.agent.description': 'Counts things in the shop.', 'gen_ai.agent.version': '2.1.0' });
    expect(root['gen_ai.agent.id']).toMatch(/^counter:[0-9a-f]{16}$/);
  });

  it('execute_tool: the tool description', () => {
    expect(otlpAttributes(span('execute_tool lookup'))).toMatchObject({ 'gen_ai.tool.name': 'lookup', 'gen_ai.tool.description': 'Looks a key up in the catalogue.', 'gen_ai.tool.call.id': 'call_local' });
  });

  it('MCP tool call: mcp.* attributes on its execute_tool span, and the span’s context propagated in params._meta', () => {
    const tool = span('execute_tool shop__report');
    const attributes = otlpAttributes(tool);
    expect(attributes).toMatchObject({
      'gen_ai.tool.name': 'shop__report',
      'mcp.method.name': 'tools/call',
      'mcp.protocol.version': '2025-11-25',
      'network.transport': 'tcp',
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(mcp.url).port),
    });
    expect(attributes['gen_ai.tool.description']).toContain('A count, structured.');
    expect(attributes['mcp.session.id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(attributes['jsonrpc.request.id']).toMatch(/^\d+$/);
    const meta = mcp.lastMeta as { traceparent?: string } | undefined;
    expect(meta?.traceparent).toBe(`00-${tool.traceId}-${tool.spanId}-01`);
  });
});
