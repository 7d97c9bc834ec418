import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKeel } from '../../src/runtime/index.ts';
import { defineAgent } from '../../src/loop/index.ts';
import { createMemoryBlobStore, createMemoryJournal, validateJournal } from '../../src/store/index.ts';
import { costOf } from '../../src/model/pricing.ts';
import { connectMcpServer, type McpToolSource } from '../../src/tools/mcp/index.ts';
import type { Model, ModelRequest, ModelResponse, Usage } from '../../src/spec/index.ts';
import { startCapabilitiesFixture, type CapabilitiesFixture } from './fixtures/capabilities-fixture.ts';

const agentUsage: Usage = { inputTokens: 100, outputTokens: 20, cacheReadTokens: 0, cacheWriteTokens: 0 };
const samplingUsage: Usage = { inputTokens: 40, outputTokens: 500, cacheReadTokens: 0, cacheWriteTokens: 0 };

/**
 * The session's model: the fixture server's sampling request ("Summarize: …") gets a summary; the agent's own turns
 * get `calls` calls of `shop__summarize`, one a turn, then a final answer. Every request is kept.
 */
function sessionModel(calls = 1): Model & { requests: ModelRequest[] } {
  const requests: ModelRequest[] = [];
  const respond = (request: ModelRequest): ModelResponse => {
    requests.push(request);
    const first = request.messages[0]?.content[0];
    if (first?.type === 'text' && first.text.startsWith('Summarize:')) {
      return { id: `s${requests.length}`, model: 'claude-sonnet-4-5', content: [{ type: 'text', text: 'It shipped.' }], stopReason: 'end_turn', providerStopReason: 'end_turn', usage: samplingUsage };
    }
    const answered = request.messages.filter((message) => message.role === 'assistant').length;
    if (answered < calls) {
      return { id: `a${requests.length}`, model: 'claude-sonnet-4-5', content: [{ type: 'tool_use', id: `c${answered + 1}`, name: 'shop__summarize', input: {} }], stopReason: 'tool_use', providerStopReason: 'tool_use', usage: agentUsage };
    }
    return { id: `a${requests.length}`, model: 'claude-sonnet-4-5', content: [{ type: 'text', text: 'The order shipped.' }], stopReason: 'end_turn', providerStopReason: 'end_turn', usage: agentUsage };
  };
  return {
    provider: 'anthropic',
    modelId: 'claude-sonnet-4-5',
    requests,
    generate: async (request) => respond(request),
    async *stream(request) {
      yield { type: 'finish', response: respond(request) };
    },
  };
}

describe('MCP sampling during a session tool call', () => {
  let fixture: CapabilitiesFixture;
  let source: McpToolSource;
  let fallbackCalls: number;
  beforeEach(async () => {
    fixture = await startCapabilitiesFixture();
    fallbackCalls = 0;
    // The connection's own model answers sampling outside a session only; here it must not be asked.
    const fallback: Model = {
      provider: 'test',
      modelId: 'fallback',
      generate: async () => {
        fallbackCalls += 1;
        throw new Error('the connection model was asked inside a session');
      },
      // eslint-disable-next-line require-yield
      async *stream() {
        throw new Error('not streamed');
      },
    };
    source = await connectMcpServer({
      name: 'shop',
      transport: { kind: 'http', url: fixture.url },
      trust: 'trusted',
      riskOverrides: { summarize: 'read' },
      sampling: { model: fallback, maxTokensPerRequest: 1_000 },
      timeoutMs: 10_000,
    });
  });
  afterEach(async () => {
    await source?.close();
    await fixture?.stop();
  });

  it('is journaled as a side-call of the tool call, its usage and cost counted in the session', async () => {
    const model = sessionModel();
    const agent = defineAgent({ name: 'shipping', instructions: 'Answer about orders.', tools: source.tools() });
    const keel = createKeel({ model, journal: createMemoryJournal(), blobs: createMemoryBlobStore() });
    const result = await keel.run(agent, 'Did my order ship?').result;
    expect(result.status).toBe('completed');
    expect(fallbackCalls).toBe(0);
    const events = await keel.events(result.sessionId);
    expect(events.find((event) => event.type === 'tool-result')).toMatchObject({ callId: 'c1', output: 'claude-sonnet-4-5: It shipped.' });
    const sideCalls = events.filter((event) => event.type === 'side-call');
    expect(sideCalls).toHaveLength(1);
    const sideCall = sideCalls[0];
    if (sideCall?.type !== 'side-call') throw new Error('no side call');
    expect(sideCall).toMatchObject({ turn: 1, callId: 'c1', purpose: 'mcp-sampling:shop', model: 'claude-sonnet-4-5', usage: samplingUsage, ok: true });
    const sampleCost = costOf('anthropic', 'claude-sonnet-4-5', samplingUsage);
    expect(sampleCost).not.toBeNull();
    expect(sideCall.costUsd).toBe(sampleCost);
    // The sampling request reached the session's model as a tool-less call, its output ask capped.
    const samplingRequest = model.requests.find((request) => request.messages[0]?.content[0]?.type === 'text' && (request.messages[0].content[0] as { text: string }).text.startsWith('Summarize:'));
    expect(samplingRequest?.tools).toEqual([]);
    expect(samplingRequest?.maxOutputTokens).toBe(1_000);
    const agentResponses = events.flatMap((event) => (event.type === 'model-response' ? [event] : []));
    expect(agentResponses).toHaveLength(2);
    expect(result.usage.outputTokens).toBe(2 * agentUsage.outputTokens + samplingUsage.outputTokens);
    expect(result.usage.inputTokens).toBe(2 * agentUsage.inputTokens + samplingUsage.inputTokens);
    const agentCost = agentResponses.reduce((sum, event) => sum + (event.costUsd ?? Number.NaN), 0);
    expect(result.costUsd).toBeCloseTo(agentCost + (sampleCost ?? 0), 9);
    expect(validateJournal(events).problems).toEqual([]);
  });

  it('counts against the session budget: the output-token guard trips on what sampling spent', async () => {
    // Budgets are checked after a response that asks for more work: the second turn's call is refused, because the
    // agent's 40 output tokens are under 300 but the 500 the server's sampling spent during the first call are not.
    const model = sessionModel(2);
    const agent = defineAgent({ name: 'shipping', instructions: 'Answer about orders.', tools: source.tools(), limits: { maxOutputTokens: 300 } });
    const keel = createKeel({ model, journal: createMemoryJournal(), blobs: createMemoryBlobStore() });
    const result = await keel.run(agent, 'Did my order ship?').result;
    expect(result.status).toBe('failed');
    const events = await keel.events(result.sessionId);
    expect(events.filter((event) => event.type === 'side-call')).toEqual([expect.objectContaining({ callId: 'c1', usage: samplingUsage })]);
    expect(events.find((event) => event.type === 'guard-trip')).toMatchObject({ guard: 'output-tokens', limit: 300, actual: 2 * agentUsage.outputTokens + samplingUsage.outputTokens });
    expect(events.filter((event) => event.type === 'model-response')).toHaveLength(2);
    expect(events.filter((event) => event.type === 'tool-result').map((event) => (event.type === 'tool-result' ? event.callId : null))).toEqual(['c1']);
    expect(result.usage.outputTokens).toBe(2 * agentUsage.outputTokens + samplingUsage.outputTokens);
  });
});
