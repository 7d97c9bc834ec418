import { describe, expect, it } from 'vitest';
import { buildSpans, JournalSpanBuilder, spanIdFor, traceIdFor } from '../../src/tracing/index.ts';
import type { SpanModel } from '../../src/tracing/index.ts';
import { handJournal, limits, supportJournal, t0, usage } from './helpers.ts';

function find(spans: readonly SpanModel[], name: string, index = 0): SpanModel {
  const span = spans.filter((candidate) => candidate.name === name)[index];
  if (span === undefined) throw new Error(`no span ${name} #${index}`);
  return span;
}

describe('the journal as GenAI spans', () => {
  const spans = buildSpans(supportJournal());

  it('derives ids from (sessionId, seq) and the trace id from the root session', () => {
    expect(spanIdFor('ses_support', 1)).toMatch(/^[0-9a-f]{16}$/);
    expect(traceIdFor('ses_support')).toMatch(/^[0-9a-f]{32}$/);
    expect(spanIdFor('ses_support', 1)).not.toBe(spanIdFor('ses_support', 2));
    const root = find(spans, 'invoke_agent support');
    expect(root.spanId).toBe(spanIdFor('ses_support', 1));
    expect(root.traceId).toBe(traceIdFor('ses_support'));
    expect(spans.every((span) => span.traceId === root.traceId)).toBe(true);
    expect(find(spans, 'agent_turn').spanId).toBe(spanIdFor('ses_support', 2));
    expect(find(spans, 'chat claude-x').spanId).toBe(spanIdFor('ses_support', 4));
    expect(find(spans, 'execute_tool lookup').spanId).toBe(spanIdFor('ses_support', 6));
  });

  it('names, nests and times each span from the events', () => {
    expect(spans.map((span) => span.name).sort()).toEqual([
      'agent_turn', 'agent_turn', 'agent_turn',
      'chat claude-x', 'chat claude-x', 'chat claude-x',
      'context_assembly', 'context_assembly', 'context_assembly',
      'execute_tool lookup', 'execute_tool lookup', 'execute_tool search',
      'invoke_agent support',
    ]);
    const root = find(spans, 'invoke_agent support');
    const turn1 = find(spans, 'agent_turn', 0);
    const turn2 = find(spans, 'agent_turn', 1);
    expect(root).toMatchObject({ parentSpanId: null, kind: 'internal', startTimeMs: t0, endTimeMs: t0 + 3690, status: { code: 'unset' }, incomplete: false });
    expect(turn1).toMatchObject({ parentSpanId: root.spanId, startTimeMs: t0 + 10, endTimeMs: t0 + 1120 });
    expect(find(spans, 'agent_turn', 2)).toMatchObject({ startTimeMs: t0 + 3180, endTimeMs: t0 + 3690 });
    expect(find(spans, 'context_assembly')).toMatchObject({ parentSpanId: turn1.spanId, startTimeMs: t0 + 10, endTimeMs: t0 + 15 });
    // The call took 1 s by its latency; its request was journaled at +15, its response at +1015.
    expect(find(spans, 'chat claude-x')).toMatchObject({ parentSpanId: turn1.spanId, kind: 'client', startTimeMs: t0 + 15, endTimeMs: t0 + 1015 });
    expect(find(spans, 'chat claude-x', 1)).toMatchObject({ parentSpanId: turn2.spanId, startTimeMs: t0 + 1126, endTimeMs: t0 + 3126 });
    expect(find(spans, 'execute_tool lookup')).toMatchObject({ parentSpanId: turn1.spanId, startTimeMs: t0 + 1016, endTimeMs: t0 + 1117 });
    // Children end before their parents in the output, so a live exporter never sees a parent first.
    const order = spans.map((span) => span.spanId);
    for (const span of spans) if (span.parentSpanId !== null) expect(order.indexOf(span.spanId)).toBeLessThan(order.indexOf(span.parentSpanId));
  });

  it('sets the GenAI attributes on chat spans, with cached tokens inside input tokens', () => {
    expect(find(spans, 'chat claude-x').attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'claude-x',
      'gen_ai.conversation.id': 'ses_support',
      'gen_ai.request.stream': true,
      'keel.turn.number': 1,
      'keel.context.request_hash': 'req1',
      'gen_ai.response.id': 'msg_a',
      'gen_ai.response.model': 'claude-x-20250101',
      'gen_ai.response.finish_reasons': ['tool_use'],
      'gen_ai.usage.input_tokens': 1000,
      'gen_ai.usage.output_tokens': 50,
      'gen_ai.usage.cache_read.input_tokens': 200,
      'gen_ai.usage.cache_creation.input_tokens': 0,
      'keel.stop_reason': 'tool_use',
      'keel.model.latency_ms': 1000,
      'keel.model.retries': 1,
      'keel.cost.usd': 0.01,
    });
  });

  it('sets execute_tool attributes and marks failures with error.type', () => {
    const ok = find(spans, 'execute_tool lookup');
    expect(ok.attributes).toMatchObject({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'lookup', 'gen_ai.tool.call.id': 'c1', 'gen_ai.tool.type': 'function', 'keel.tool.outcome': 'ok', 'keel.tool.latency_ms': 100, 'keel.tool.result_length': 16, 'keel.tool.decision': 'allow', 'keel.tool.risk': 'read' });
    expect(ok.attributes['error.type']).toBeUndefined();
    expect(ok.events).toEqual([{ name: 'keel.tool.decision', timeMs: t0 + 1017, attributes: { 'keel.tool.decision': 'allow', 'keel.tool.decision.rule': 'default', 'keel.tool.decision.reason': 'read-only' } }]);
    const failed = find(spans, 'execute_tool search');
    expect(failed.attributes).toMatchObject({ 'error.type': 'tool-timeout', 'keel.tool.outcome': 'error', 'keel.error.fault': 'tool', 'keel.error.retryable': false });
    expect(failed.status).toEqual({ code: 'error', message: 'search timed out' });
    for (const span of spans) {
      expect(span.attributes['gen_ai.tool.call.arguments']).toBeUndefined();
      expect(span.attributes['gen_ai.tool.call.result']).toBeUndefined();
      expect(span.attributes['gen_ai.input.messages']).toBeUndefined();
      expect(span.attributes['gen_ai.output.messages']).toBeUndefined();
    }
  });

  it('sums a turn and the session on their spans, with anomalies as events', () => {
    expect(find(spans, 'agent_turn').attributes).toMatchObject({ 'keel.turn.number': 1, 'gen_ai.usage.input_tokens': 1000, 'gen_ai.usage.output_tokens': 50, 'keel.turn.tool_calls': 2, 'keel.turn.tool_errors': 1, 'keel.context.utilization': 0.1, 'keel.context.tokens.total': 1000 });
    const root = find(spans, 'invoke_agent support');
    expect(root.attributes).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'support',
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'claude-x',
      'gen_ai.usage.input_tokens': 4500,
      'gen_ai.usage.output_tokens': 350,
      'gen_ai.response.finish_reasons': ['end_turn'],
      'keel.session.status': 'completed',
      'keel.anomaly.signals': ['context-utilization'],
      'keel.agent.tools': ['lookup', 'search', 'refund'],
      'keel.limits.max_cost_usd': 1,
    });
    expect(root.events).toEqual([{ name: 'keel.anomaly', timeMs: t0 + 1125, attributes: { 'keel.anomaly.signal': 'context-utilization', 'keel.anomaly.threshold': 0.7, 'keel.anomaly.value': 0.75, 'keel.turn.number': 2, 'keel.message': 'context at 75 %' } }]);
  });

  it('puts content in attributes only when the policy says so', () => {
    const withInput = buildSpans(supportJournal(), { policy: { includeToolInput: true } });
    expect(find(withInput, 'execute_tool lookup').attributes['gen_ai.tool.call.arguments']).toBe('{"id":1}');
    expect(find(withInput, 'execute_tool lookup').attributes['gen_ai.tool.call.result']).toBeUndefined();
    expect(find(withInput, 'chat claude-x').attributes['gen_ai.output.messages']).toBeUndefined();
    const everything = buildSpans(supportJournal(), { policy: { includeToolInput: true, includeToolOutput: true, includeMessageContent: true, maxContentLength: 20 } });
    expect(find(everything, 'execute_tool lookup').attributes['gen_ai.tool.call.result']).toBe('order 1: shipped');
    const messages = buildSpans(supportJournal(), { policy: { includeMessageContent: true } });
    expect(find(messages, 'execute_tool lookup').attributes['gen_ai.tool.call.arguments']).toBeUndefined();
    expect(JSON.parse(find(messages, 'chat claude-x').attributes['gen_ai.output.messages'] as string)).toEqual([
      { role: 'assistant', finish_reason: 'tool_use', parts: [{ type: 'text', content: 'Let me look.' }, { type: 'tool_call', id: 'c1', name: 'lookup', arguments: { id: 1 } }, { type: 'tool_call', id: 'c2', name: 'search', arguments: { q: 'x' } }] },
    ]);
    expect(JSON.parse(find(messages, 'invoke_agent support').attributes['gen_ai.input.messages'] as string)).toEqual([{ role: 'user', parts: [{ type: 'text', content: 'Where is my order?' }] }]);
    const full = find(messages, 'chat claude-x').attributes['gen_ai.output.messages'] as string;
    expect(find(everything, 'chat claude-x').attributes['gen_ai.output.messages']).toBe(`${full.slice(0, 20)}…[truncated ${full.length - 20} characters]`);
  });

  it('records denials, approvals with edited input, guard trips and compensations', () => {
    const journal = handJournal('ses_ops');
    journal.add({ type: 'session-start', agent: { name: 'ops', instructionsHash: 'h', tools: ['refund', 'delete'] }, model: { provider: 'openai', modelId: 'gpt-x' }, input: 'fix it', limits }, 0);
    journal.add({ type: 'turn-start', turn: 1 }, 1);
    journal.add({ type: 'model-request', turn: 1, requestHash: 'r', provider: 'openai', model: 'gpt-x', streaming: false }, 2);
    journal.add({ type: 'model-response', turn: 1, responseId: 'x', model: 'gpt-x', content: [], stopReason: 'tool_use', providerStopReason: 'tool_calls', usage: usage(1, 1), costUsd: null, latencyMs: 1, retries: 0 }, 3);
    journal.add({ type: 'tool-request', turn: 1, callId: 'd1', tool: 'delete', input: { all: true }, idempotencyKey: 'k1' }, 4);
    journal.add({ type: 'tool-request', turn: 1, callId: 'r1', tool: 'refund', input: { amount: 500 }, idempotencyKey: 'k2' }, 4);
    journal.add({ type: 'tool-decision', turn: 1, callId: 'd1', tool: 'delete', decision: 'deny', rule: 'scope:admin', reason: 'missing scope admin', risk: 'irreversible' }, 5);
    journal.add({ type: 'tool-error', turn: 1, callId: 'd1', tool: 'delete', error: { code: 'tool-denied', message: 'missing scope admin', fault: 'policy', retryable: false }, latencyMs: 0.2 }, 5);
    journal.add({ type: 'tool-decision', turn: 1, callId: 'r1', tool: 'refund', decision: 'ask', rule: 'risk:irreversible', reason: 'needs a person', risk: 'irreversible' }, 5);
    journal.add({ type: 'tool-approval', turn: 1, callId: 'r1', approved: true, approver: 'alice', reason: 'ok', editedInput: { amount: 50 } }, 100);
    journal.add({ type: 'tool-result', turn: 1, callId: 'r1', tool: 'refund', output: 'refunded 50', latencyMs: 10 }, 111);
    journal.add({ type: 'turn-start', turn: 2 }, 112);
    journal.add({ type: 'model-request', turn: 2, requestHash: 'r', provider: 'openai', model: 'gpt-x', streaming: false }, 113);
    journal.add({ type: 'model-error', turn: 2, error: { code: 'model-overloaded', message: 'overloaded', fault: 'model', retryable: true }, retries: 3, latencyMs: 50 }, 170);
    journal.add({ type: 'guard-trip', turn: 2, guard: 'cost', limit: 1, actual: 2, message: 'over budget' }, 171);
    journal.add({ type: 'compensation-request', turn: 2, callId: 'r1', tool: 'refund', idempotencyKey: 'k3', reason: 'failed', endStatus: 'failed', endError: null }, 172);
    journal.add({ type: 'compensation-result', turn: 2, callId: 'r1', tool: 'refund', ok: true, output: 'reversed', error: null, latencyMs: 3 }, 176);
    journal.add({ type: 'session-end', status: 'failed', output: null, error: { code: 'guard-tripped', message: 'over budget', fault: 'policy', retryable: false }, turns: 2, usage: usage(1, 1), costUsd: null }, 177);
    const built = buildSpans(journal.events, { policy: { includeToolInput: true } });
    const denied = find(built, 'execute_tool delete');
    expect(denied.attributes).toMatchObject({ 'keel.tool.outcome': 'denied', 'keel.tool.decision': 'deny', 'keel.tool.decision.rule': 'scope:admin', 'error.type': 'tool-denied' });
    const refund = find(built, 'execute_tool refund');
    expect(refund).toMatchObject({ startTimeMs: 4, endTimeMs: 111 });
    expect(refund.attributes).toMatchObject({ 'keel.tool.approval': 'approved', 'keel.tool.approver': 'alice', 'keel.tool.input_edited': true, 'gen_ai.tool.call.arguments': '{"amount":50}', 'keel.tool.call.requested_arguments': '{"amount":500}', 'keel.tool.outcome': 'ok' });
    expect(refund.events.map((event) => event.name)).toEqual(['keel.tool.decision', 'keel.tool.approval']);
    const failedChat = find(built, 'chat gpt-x', 1);
    expect(failedChat).toMatchObject({ startTimeMs: 120, endTimeMs: 170, status: { code: 'error', message: 'overloaded' } });
    expect(failedChat.attributes).toMatchObject({ 'error.type': 'model-overloaded', 'keel.model.retries': 3 });
    expect(find(built, 'chat gpt-x').attributes['keel.cost.usd']).toBeUndefined();
    const compensation = find(built, 'compensate refund');
    expect(compensation).toMatchObject({ parentSpanId: find(built, 'agent_turn', 1).spanId, startTimeMs: 172, endTimeMs: 176 });
    expect(compensation.attributes).toMatchObject({ 'gen_ai.tool.call.id': 'r1', 'keel.compensation.ok': true });
    const root = find(built, 'invoke_agent ops');
    expect(root.attributes).toMatchObject({ 'keel.guard.name': 'cost', 'keel.guard.limit': 1, 'keel.guard.actual': 2, 'error.type': 'guard-tripped', 'keel.session.status': 'failed' });
    expect(root.status).toEqual({ code: 'error', message: 'over budget' });
    expect(root.events.map((event) => event.name)).toEqual(['keel.guard_trip']);
  });

  it('leaves unfinished spans out unless asked, then ends them at the last event as incomplete', () => {
    const events = supportJournal().slice(0, 8);
    expect(buildSpans(events).map((span) => span.name)).toEqual(['context_assembly', 'chat claude-x']);
    const closed = buildSpans(events, { closeOpen: true });
    expect(closed.map((span) => span.name)).toEqual(['context_assembly', 'chat claude-x', 'execute_tool lookup', 'execute_tool search', 'agent_turn', 'invoke_agent support']);
    for (const span of closed.slice(2)) expect(span).toMatchObject({ incomplete: true, endTimeMs: t0 + 1017, attributes: { 'keel.span.incomplete': true } });
  });

  it('hangs a subagent whose parent journal is absent under the parent invoke_agent span', () => {
    const journal = handJournal('ses_child');
    journal.add({ type: 'session-start', agent: { name: 'sub', instructionsHash: 'h', tools: [] }, model: { provider: 'anthropic', modelId: 'm' }, input: 'x', limits, parentSessionId: 'ses_parent' }, 10);
    journal.add({ type: 'session-end', status: 'completed', output: 'y', error: null, turns: 0, usage: usage(0, 0), costUsd: 0 }, 11);
    const [root] = buildSpans(journal.events);
    expect(root).toMatchObject({ traceId: traceIdFor('ses_parent'), parentSpanId: spanIdFor('ses_parent', 1), name: 'invoke_agent sub' });
    const overridden = buildSpans(journal.events, { resolveParent: () => ({ traceId: 'a'.repeat(32), parentSpanId: 'b'.repeat(16) }) });
    expect(overridden[0]).toMatchObject({ traceId: 'a'.repeat(32), parentSpanId: 'b'.repeat(16) });
  });

  it('hangs a subagent under the parent turn when no tool call was running, and keeps grandchildren in the root trace', () => {
    const parent = handJournal('ses_p');
    parent.add({ type: 'session-start', agent: { name: 'p', instructionsHash: 'h', tools: [] }, model: { provider: 'anthropic', modelId: 'm' }, input: 'x', limits }, 0);
    parent.add({ type: 'turn-start', turn: 1 }, 1);
    parent.add({ type: 'session-end', status: 'completed', output: 'y', error: null, turns: 1, usage: usage(0, 0), costUsd: 0 }, 50);
    const child = handJournal('ses_c');
    child.add({ type: 'session-start', agent: { name: 'c', instructionsHash: 'h', tools: [] }, model: { provider: 'anthropic', modelId: 'm' }, input: 'x', limits, parentSessionId: 'ses_p' }, 5);
    child.add({ type: 'turn-start', turn: 1 }, 6);
    child.add({ type: 'session-end', status: 'completed', output: 'y', error: null, turns: 1, usage: usage(0, 0), costUsd: 0 }, 40);
    const grandchild = handJournal('ses_g');
    grandchild.add({ type: 'session-start', agent: { name: 'g', instructionsHash: 'h', tools: [] }, model: { provider: 'anthropic', modelId: 'm' }, input: 'x', limits, parentSessionId: 'ses_c' }, 7);
    grandchild.add({ type: 'session-end', status: 'completed', output: 'y', error: null, turns: 0, usage: usage(0, 0), costUsd: 0 }, 8);
    const built = buildSpans([...grandchild.events, ...child.events, ...parent.events]);
    expect(find(built, 'invoke_agent c')).toMatchObject({ traceId: traceIdFor('ses_p'), parentSpanId: spanIdFor('ses_p', 2) });
    expect(find(built, 'invoke_agent g')).toMatchObject({ traceId: traceIdFor('ses_p'), parentSpanId: spanIdFor('ses_c', 2) });
  });

  it('forgets the oldest ended sessions beyond its cap, so a long-lived tracer stays bounded', () => {
    const builder = new JournalSpanBuilder({ maxEndedSessions: 1 });
    for (const sessionId of ['ses_1', 'ses_2']) {
      const journal = handJournal(sessionId);
      journal.add({ type: 'session-start', agent: { name: 'a', instructionsHash: 'h', tools: [] }, model: { provider: 'anthropic', modelId: 'm' }, input: 'x', limits }, 0);
      journal.add({ type: 'session-end', status: 'completed', output: 'y', error: null, turns: 0, usage: usage(0, 0), costUsd: 0 }, 1);
      for (const event of journal.events) builder.push(event);
    }
    expect(builder.traceOf('ses_1')).toBeUndefined();
    expect(builder.traceOf('ses_2')).toEqual({ traceId: traceIdFor('ses_2'), rootSessionId: 'ses_2', rootSpanId: spanIdFor('ses_2', 1) });
  });
});
