import { afterEach, describe, expect, it } from 'vitest';
import { spanIdFor, traceIdFor } from '../../src/tracing/index.ts';
import { createLiveTracer, createTraceExport, exportJournal } from '../../src/tracing/otel.ts';
import { otlpAttributes, receivedSpans, runOrchestration, startOtlpReceiver } from './helpers.ts';
import type { OtlpReceiver, OtlpSpan } from './helpers.ts';

const SPAN_KIND_INTERNAL = 1;
const SPAN_KIND_CLIENT = 3;
const STATUS_CODE_ERROR = 2;

let receiver: OtlpReceiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

function byName(spans: readonly OtlpSpan[], name: string): OtlpSpan[] {
  return spans.filter((span) => span.name === name);
}

function one(spans: readonly OtlpSpan[], predicate: (span: OtlpSpan) => boolean): OtlpSpan {
  const found = spans.filter(predicate);
  if (found.length !== 1) throw new Error(`expected one span, found ${found.length}`);
  return found[0] as OtlpSpan;
}

describe('OTLP/HTTP export of a journal', () => {
  it('sends the span tree of a session and its subagent to the collector at OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    receiver = await startOtlpReceiver();
    const { parentId, childId, events } = await runOrchestration();
    const traceExport = createTraceExport({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SERVICE_NAME: 'keel-test' } });
    expect(traceExport.endpoint).toBe(`${receiver.url}/v1/traces`);
    await exportJournal(traceExport, events);
    await traceExport.shutdown();

    expect(receiver.bodies.every((body) => body.path === '/v1/traces' && body.contentType.startsWith('application/json'))).toBe(true);
    const received = receivedSpans(receiver);
    expect(received.every(({ resource }) => resource['service.name'] === 'keel-test')).toBe(true);
    const spans = received.map(({ span }) => span);
    // Parent: invoke_agent, 3 turns, 3 context assemblies, 3 chats, 4 tools. Child: invoke_agent, 2 turns, 2, 2, 1.
    expect(spans).toHaveLength(22);
    expect(new Set(spans.map((span) => span.spanId)).size).toBe(22);
    expect(new Set(spans.map((span) => span.traceId))).toEqual(new Set([traceIdFor(parentId)]));

    const parentRoot = one(spans, (span) => span.name === 'invoke_agent orchestrator');
    expect(parentRoot.parentSpanId ?? '').toBe('');
    expect(parentRoot.spanId).toBe(spanIdFor(parentId, 1));
    expect(parentRoot.kind).toBe(SPAN_KIND_INTERNAL);
    expect(otlpAttributes(parentRoot)).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.provider.name': 'test',
      'gen_ai.request.model': 'parent-model',
      'gen_ai.agent.name': 'orchestrator',
      'gen_ai.conversation.id': parentId,
      'gen_ai.usage.input_tokens': 650,
      'gen_ai.usage.output_tokens': 90,
      'gen_ai.usage.cache_read.input_tokens': 50,
      'gen_ai.response.finish_reasons': ['end_turn'],
      'keel.session.status': 'completed',
      'keel.session.turns': 3,
    });

    const turns = byName(spans, 'agent_turn').filter((span) => span.parentSpanId === parentRoot.spanId);
    expect(turns.map((span) => otlpAttributes(span)['keel.turn.number']).sort()).toEqual([1, 2, 3]);
    const turnOf = (number: number): OtlpSpan => one(turns, (span) => otlpAttributes(span)['keel.turn.number'] === number);

    for (const turn of turns) {
      const children = spans.filter((span) => span.parentSpanId === turn.spanId);
      expect(children.filter((span) => span.name === 'context_assembly')).toHaveLength(1);
      expect(children.filter((span) => span.name === 'chat parent-model')).toHaveLength(1);
    }
    const firstChat = one(spans, (span) => span.name === 'chat parent-model' && span.parentSpanId === turnOf(1).spanId);
    expect(firstChat.kind).toBe(SPAN_KIND_CLIENT);
    expect(otlpAttributes(firstChat)).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'test',
      'gen_ai.request.model': 'parent-model',
      'gen_ai.response.model': 'parent-model',
      'gen_ai.response.id': 'msg_1',
      'gen_ai.response.finish_reasons': ['tool_use'],
      'gen_ai.usage.input_tokens': 150,
      'gen_ai.usage.output_tokens': 20,
      'gen_ai.usage.cache_read.input_tokens': 50,
      'gen_ai.usage.cache_creation.input_tokens': 0,
      'gen_ai.conversation.id': parentId,
      'keel.stop_reason': 'tool_use',
      'keel.model.retries': 0,
    });
    expect(otlpAttributes(firstChat)['keel.cost.usd']).toBeCloseTo((100 * 3 + 20 * 15) / 1_000_000, 12);

    const tools = spans.filter((span) => span.name.startsWith('execute_tool '));
    expect(tools.map((span) => span.name).sort()).toEqual(['execute_tool flaky', 'execute_tool lookup', 'execute_tool lookup', 'execute_tool lookup', 'execute_tool researcher']);
    const researcher = one(tools, (span) => span.name === 'execute_tool researcher');
    expect(researcher.parentSpanId).toBe(turnOf(1).spanId);
    expect(otlpAttributes(researcher)).toMatchObject({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'researcher', 'gen_ai.tool.call.id': 'c2', 'gen_ai.tool.type': 'function', 'keel.tool.outcome': 'ok', 'keel.tool.decision': 'allow' });
    // Tool input is not exported unless the policy says so.
    expect(tools.every((span) => !('gen_ai.tool.call.arguments' in otlpAttributes(span)))).toBe(true);
    const flaky = one(tools, (span) => span.name === 'execute_tool flaky');
    expect(flaky.parentSpanId).toBe(turnOf(2).spanId);
    expect(otlpAttributes(flaky)).toMatchObject({ 'error.type': 'tool-failed', 'keel.tool.outcome': 'error', 'keel.error.fault': 'tool' });
    expect(flaky.status.code).toBe(STATUS_CODE_ERROR);

    // The subagent's invoke_agent is a child of the parent's execute_tool span that ran it, in the same trace.
    const childRoot = one(spans, (span) => span.name === 'invoke_agent researcher');
    expect(childRoot.spanId).toBe(spanIdFor(childId, 1));
    expect(childRoot.parentSpanId).toBe(researcher.spanId);
    expect(otlpAttributes(childRoot)).toMatchObject({ 'gen_ai.agent.name': 'researcher', 'gen_ai.conversation.id': childId, 'keel.session.parent_id': parentId, 'gen_ai.request.model': 'child-model' });
    const childTurns = spans.filter((span) => span.name === 'agent_turn' && span.parentSpanId === childRoot.spanId);
    expect(childTurns).toHaveLength(2);
    const childTool = one(spans, (span) => span.name === 'execute_tool lookup' && otlpAttributes(span)['gen_ai.conversation.id'] === childId);
    expect(childTurns.map((span) => span.spanId)).toContain(childTool.parentSpanId);
    expect(spans.filter((span) => span.name === 'chat child-model')).toHaveLength(2);

    // Times nest: every child span lies within its parent.
    const byId = new Map(spans.map((span) => [span.spanId, span]));
    for (const span of spans) {
      const parent = span.parentSpanId === undefined || span.parentSpanId === '' ? undefined : byId.get(span.parentSpanId);
      if (parent === undefined) continue;
      expect(BigInt(span.startTimeUnixNano) >= BigInt(parent.startTimeUnixNano), `${span.name} starts within ${parent.name}`).toBe(true);
      expect(BigInt(span.endTimeUnixNano) <= BigInt(parent.endTimeUnixNano), `${span.name} ends within ${parent.name}`).toBe(true);
    }
  });

  it('exports live spans over OTLP as the sessions run, the same set as the rebuild', async () => {
    receiver = await startOtlpReceiver();
    const liveExport = createTraceExport({ env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`, OTEL_BSP_SCHEDULE_DELAY: '10' } });
    const tracer = createLiveTracer(liveExport);
    const { events } = await runOrchestration(tracer.observe);
    await tracer.shutdown();
    const live = receivedSpans(receiver).map(({ span }) => span);
    receiver.bodies.length = 0;

    const rebuildExport = createTraceExport({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url } });
    await exportJournal(rebuildExport, events);
    await rebuildExport.shutdown();
    const rebuilt = receivedSpans(receiver).map(({ span }) => span);
    const canonical = (spans: OtlpSpan[]): string => JSON.stringify([...spans].sort((left, right) => left.spanId.localeCompare(right.spanId)));
    expect(live).toHaveLength(22);
    expect(canonical(live)).toBe(canonical(rebuilt));
  });

  it('exports nothing and costs nothing without an endpoint', () => {
    const traceExport = createTraceExport({ env: {} });
    expect(traceExport.enabled).toBe(false);
    expect(traceExport.endpoint).toBeNull();
    const tracer = createLiveTracer(traceExport);
    expect(() => tracer.observe({ type: 'event' })).not.toThrow();
  });

  it('rejects a malformed endpoint naming the variable', () => {
    expect(() => createTraceExport({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' } })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT/);
  });
});
