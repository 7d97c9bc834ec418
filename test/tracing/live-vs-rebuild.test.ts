import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import type { SessionEvent } from '../../src/spec/index.ts';
import { buildSpans, JournalSpanBuilder } from '../../src/tracing/index.ts';
import type { SpanModel } from '../../src/tracing/index.ts';
import { createLiveTracer, createTraceExport, exportJournal } from '../../src/tracing/otel.ts';
import { handJournal, limits, runOrchestration, usage } from './helpers.ts';

/** Everything an exporter sends about a span, as plain data. */
function plain(span: ReadableSpan): unknown {
  const context = span.spanContext();
  return {
    traceId: context.traceId,
    spanId: context.spanId,
    traceFlags: context.traceFlags,
    parent: span.parentSpanContext?.spanId ?? null,
    name: span.name,
    kind: span.kind,
    startTime: span.startTime,
    endTime: span.endTime,
    duration: span.duration,
    status: span.status,
    attributes: span.attributes,
    events: span.events,
    scope: span.instrumentationScope,
    resource: span.resource.attributes,
  };
}

function sorted(spans: readonly ReadableSpan[]): unknown[] {
  return [...spans].sort((left, right) => left.spanContext().spanId.localeCompare(right.spanContext().spanId)).map(plain);
}

describe('live spans and spans rebuilt from the journal', () => {
  it('are equal for a real session with a subagent, fed update by update', async () => {
    const liveExporter = new InMemorySpanExporter();
    const liveExport = createTraceExport({ env: {}, exporter: liveExporter });
    const tracer = createLiveTracer(liveExport);
    const exportedAtEachStep: number[] = [];
    const { events } = await runOrchestration((update) => {
      tracer.observe(update);
      exportedAtEachStep.push(liveExporter.getFinishedSpans().length);
    });
    await tracer.forceFlush();

    // Spans leave as they end, not all at the end.
    expect(exportedAtEachStep.filter((count, index) => index > 0 && count > (exportedAtEachStep[index - 1] ?? 0)).length).toBeGreaterThan(10);

    const rebuiltExporter = new InMemorySpanExporter();
    await exportJournal(createTraceExport({ env: {}, exporter: rebuiltExporter }), events);
    expect(liveExporter.getFinishedSpans()).toHaveLength(22);
    expect(sorted(liveExporter.getFinishedSpans())).toEqual(sorted(rebuiltExporter.getFinishedSpans()));
    expect(JSON.stringify(sorted(liveExporter.getFinishedSpans()))).toBe(JSON.stringify(sorted(rebuiltExporter.getFinishedSpans())));
  });

  it('do not depend on the order sessions are given in, nor on a second rebuild', async () => {
    const { events, parentId } = await runOrchestration();
    const key = (spans: SpanModel[]): string => JSON.stringify([...spans].sort((left, right) => left.spanId.localeCompare(right.spanId)));
    const forward = buildSpans(events);
    const childFirst = buildSpans([...events.filter((event) => event.sessionId !== parentId), ...events.filter((event) => event.sessionId === parentId)]);
    const shuffled = buildSpans([...events].reverse());
    expect(key(childFirst)).toBe(key(forward));
    expect(key(shuffled)).toBe(key(forward));
    expect(key(buildSpans(events))).toBe(key(forward));
  });

  it('a resumed process that preloads the history exports the rest, and both halves make the rebuilt tree', () => {
    const journal = handJournal('ses_resumed');
    const t = 1_700_000_000_000;
    journal.add({ type: 'session-start', agent: { name: 'a', instructionsHash: 'h', tools: ['pay'] }, model: { provider: 'anthropic', modelId: 'claude-x' }, input: 'pay', limits }, t);
    journal.add({ type: 'turn-start', turn: 1 }, t + 1);
    journal.add({ type: 'context-assemble', turn: 1, requestHash: 'r1', messageCount: 1, tokens: { system: 1, tools: 1, history: 1, total: 3 }, tokenCounting: 'estimate', durationMs: 1 }, t + 2);
    journal.add({ type: 'model-request', turn: 1, requestHash: 'r1', provider: 'anthropic', model: 'claude-x', streaming: false }, t + 2);
    journal.add({ type: 'model-response', turn: 1, responseId: 'm1', model: 'claude-x', content: [], stopReason: 'tool_use', providerStopReason: 'tool_use', usage: usage(10, 2), costUsd: 0.001, latencyMs: 10, retries: 0 }, t + 12);
    journal.add({ type: 'tool-request', turn: 1, callId: 'c1', tool: 'pay', input: { amount: 5 }, idempotencyKey: 'k1' }, t + 13);
    journal.add({ type: 'tool-decision', turn: 1, callId: 'c1', tool: 'pay', decision: 'ask', rule: 'risk:irreversible', reason: 'needs approval', risk: 'irreversible' }, t + 13);
    const suspendedAt = journal.events.length;
    journal.add({ type: 'tool-approval', turn: 1, callId: 'c1', approved: true, approver: 'ops', reason: null }, t + 60_000);
    journal.add({ type: 'tool-result', turn: 1, callId: 'c1', tool: 'pay', output: 'paid', latencyMs: 30 }, t + 60_031);
    journal.add({ type: 'turn-start', turn: 2 }, t + 60_032);
    journal.add({ type: 'model-request', turn: 2, requestHash: 'r2', provider: 'anthropic', model: 'claude-x', streaming: false }, t + 60_033);
    journal.add({ type: 'model-response', turn: 2, responseId: 'm2', model: 'claude-x', content: [], stopReason: 'end_turn', providerStopReason: 'end_turn', usage: usage(20, 3), costUsd: 0.002, latencyMs: 5, retries: 0 }, t + 60_040);
    journal.add({ type: 'session-end', status: 'completed', output: 'done', error: null, turns: 2, usage: usage(30, 5), costUsd: 0.003 }, t + 60_041);

    const first = new InMemorySpanExporter();
    const firstTracer = createLiveTracer(createTraceExport({ env: {}, exporter: first }));
    for (const event of journal.events.slice(0, suspendedAt)) firstTracer.observe({ type: 'event', event });
    const second = new InMemorySpanExporter();
    const secondTracer = createLiveTracer(createTraceExport({ env: {}, exporter: second }));
    secondTracer.preload(journal.events.slice(0, suspendedAt));
    for (const event of journal.events.slice(suspendedAt)) secondTracer.observe({ type: 'event', event });

    const rebuilt = new InMemorySpanExporter();
    const rebuiltTracer = createLiveTracer(createTraceExport({ env: {}, exporter: rebuilt }));
    for (const event of journal.events) rebuiltTracer.observe({ type: 'event', event });
    expect(first.getFinishedSpans().map((span) => span.name)).toEqual(['context_assembly', 'chat claude-x']);
    expect(sorted([...first.getFinishedSpans(), ...second.getFinishedSpans()])).toEqual(sorted(rebuilt.getFinishedSpans()));
    expect(new Set([...first.getFinishedSpans(), ...second.getFinishedSpans()].map((span) => span.spanContext().spanId)).size).toBe(rebuilt.getFinishedSpans().length);
  });

  it('the builder gives the same spans whether events come one by one or all at once', () => {
    const journal = handJournal('ses_x');
    journal.add({ type: 'session-start', agent: { name: 'a', instructionsHash: 'h', tools: [] }, model: { provider: 'openai', modelId: 'gpt-x' }, input: 'hi', limits }, 1000);
    journal.add({ type: 'turn-start', turn: 1 }, 1001);
    journal.add({ type: 'model-request', turn: 1, requestHash: 'r', provider: 'openai', model: 'gpt-x', streaming: true }, 1002);
    journal.add({ type: 'model-response', turn: 1, responseId: 'r1', model: 'gpt-x-2025', content: [], stopReason: 'end_turn', providerStopReason: 'stop', usage: usage(1, 1), costUsd: null, latencyMs: 3, retries: 1 }, 1010);
    journal.add({ type: 'session-end', status: 'completed', output: 'ok', error: null, turns: 1, usage: usage(1, 1), costUsd: null }, 1011);
    const builder = new JournalSpanBuilder();
    const incremental = journal.events.flatMap((event: SessionEvent) => builder.push(event));
    expect(incremental).toEqual(buildSpans(journal.events));
  });

  it('never lets a tracing failure reach the session: it is reported instead', () => {
    const failing = new InMemorySpanExporter();
    failing.export = () => {
      throw new Error('exporter exploded');
    };
    const errors: unknown[] = [];
    const tracer = createLiveTracer(createTraceExport({ env: {}, exporter: failing }), { onError: (error) => errors.push(error) });
    const journal = handJournal('ses_fail');
    journal.add({ type: 'session-start', agent: { name: 'a', instructionsHash: 'h', tools: [] }, model: { provider: 'openai', modelId: 'gpt-x' }, input: 'hi', limits }, 1000);
    journal.add({ type: 'turn-start', turn: 1 }, 1001);
    journal.add({ type: 'session-end', status: 'completed', output: 'ok', error: null, turns: 1, usage: usage(0, 0), costUsd: 0 }, 1002);
    for (const event of journal.events) expect(() => tracer.observe({ type: 'event', event })).not.toThrow();
    expect(errors.length).toBeLessThanOrEqual(1);
  });
});
