import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { defineAgent, startSession } from '../../src/loop/index.ts';
import type { LoopDependencies, SessionUpdate } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import type { EventBody, SessionEvent } from '../../src/spec/index.ts';
import { dependenciesFor, readAll } from '../helpers/loop-harness.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';

/** A journal written by hand, with the envelope stamped here: exact times for exact expectations. */
export function handJournal(sessionId: string): { readonly events: SessionEvent[]; add(body: EventBody, at: number): SessionEvent } {
  const events: SessionEvent[] = [];
  return {
    events,
    add(body, at) {
      const event = { v: 1, sessionId, seq: events.length + 1, at, ...body } as SessionEvent;
      events.push(event);
      return event;
    },
  };
}

export const limits = { maxTurns: 25, deadlineAt: null, maxInputTokens: null, maxOutputTokens: null, maxCostUsd: null, maxIdenticalToolCalls: 3 } as const;
export const usage = (inputTokens: number, outputTokens: number, cacheReadTokens = 0, cacheWriteTokens = 0) => ({ inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens });

export interface Orchestration {
  readonly dependencies: LoopDependencies;
  readonly parentId: string;
  readonly childId: string;
  /** Both journals, parent first. */
  readonly events: SessionEvent[];
}

/**
 * A real run through the loop: an orchestrator with three turns and four tool calls (one fails, two run in
 * parallel), one of which, `researcher`, runs a subagent session (parentSessionId) on the same journal.
 * Every update of both sessions goes to `onUpdate`, in the order the loop emits them.
 */
export async function runOrchestration(onUpdate?: (update: SessionUpdate) => void): Promise<Orchestration> {
  const lookup = defineTool({ name: 'lookup', description: 'Looks a term up', input: z.object({ q: z.string() }), risk: 'read', execute: async ({ q }) => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return `definition of ${q}`;
  } });
  const flaky = defineTool({ name: 'flaky', description: 'Always fails', input: z.object({}), risk: 'read', execute: () => {
    throw new Error('the backend is down');
  } });
  const childModel = scriptedCaller([
    { content: [text('Looking.'), toolUse('r1', 'lookup', { q: 'beta' })], usage: { inputTokens: 40, outputTokens: 5 } },
    { content: [text('Beta is the second letter.')], usage: { inputTokens: 60, outputTokens: 8 } },
  ], 'child-model');
  const researcherAgent = defineAgent({ name: 'researcher', instructions: 'Research a topic.', tools: [lookup], streaming: false });
  let childId = '';
  const model = scriptedCaller([
    { content: [text('Two things at once.'), toolUse('c1', 'lookup', { q: 'alpha' }), toolUse('c2', 'researcher', { topic: 'beta' })], usage: { inputTokens: 100, outputTokens: 20, cacheReadTokens: 50 } },
    { content: [toolUse('c3', 'lookup', { q: 'gamma' }), toolUse('c4', 'flaky', {})], usage: { inputTokens: 200, outputTokens: 30 } },
    { content: [text('Alpha, beta and gamma are letters.')], usage: { inputTokens: 300, outputTokens: 40 } },
  ], 'parent-model');
  const dependencies = dependenciesFor(model);
  const researcher = defineTool({ name: 'researcher', description: 'Delegates research to a subagent', input: z.object({ topic: z.string() }), risk: 'read', execute: async ({ topic }, context) => {
    const child = startSession(researcherAgent, { ...dependencies, model: childModel }, { input: topic, parentSessionId: context.sessionId, ...(onUpdate === undefined ? {} : { onUpdate }) });
    childId = child.sessionId;
    const result = await child.result;
    return result.output ?? '';
  } });
  const orchestrator = defineAgent({ name: 'orchestrator', instructions: 'Answer with help.', tools: [lookup, researcher, flaky], streaming: false });
  const run = startSession(orchestrator, dependencies, { input: 'What are alpha, beta and gamma?', ...(onUpdate === undefined ? {} : { onUpdate }) });
  const result = await run.result;
  if (result.status !== 'completed') throw new Error(`orchestration ended ${result.status}: ${JSON.stringify(result.error)}`);
  const events = [...(await readAll(dependencies, run.sessionId)), ...(await readAll(dependencies, childId))];
  return { dependencies, parentId: run.sessionId, childId, events };
}

export interface OtlpReceiver {
  readonly url: string;
  /** Every JSON body posted, by path. */
  readonly bodies: { readonly path: string; readonly contentType: string; readonly body: unknown }[];
  close(): Promise<void>;
}

/** A minimal OTLP/HTTP collector: accepts JSON on /v1/traces and /v1/metrics on 127.0.0.1 and an ephemeral port. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const bodies: OtlpReceiver['bodies'][number][] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const contentType = request.headers['content-type'] ?? '';
      const raw = Buffer.concat(chunks).toString('utf8');
      if (request.method !== 'POST' || !contentType.startsWith('application/json')) {
        response.writeHead(415, { 'content-type': 'application/json' });
        response.end('{}');
        return;
      }
      bodies.push({ path: request.url ?? '', contentType, body: JSON.parse(raw) as unknown });
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    close: () => new Promise<void>((resolve, reject) => {
      server.closeAllConnections();
      server.close((error) => (error === undefined ? resolve() : reject(error)));
    }),
  };
}

export interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
  readonly startTimeUnixNano: string;
  readonly endTimeUnixNano: string;
  readonly attributes: readonly { readonly key: string; readonly value: Record<string, unknown> }[];
  readonly events?: readonly { readonly name: string; readonly attributes?: readonly unknown[] }[];
  readonly status: { readonly code?: number; readonly message?: string };
}

/** The spans of every received /v1/traces body, with their resource attributes. */
export function receivedSpans(receiver: OtlpReceiver): { span: OtlpSpan; resource: Record<string, unknown> }[] {
  const found: { span: OtlpSpan; resource: Record<string, unknown> }[] = [];
  for (const { path, body } of receiver.bodies) {
    if (path !== '/v1/traces') continue;
    const resourceSpans = (body as { resourceSpans: { resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: { spans: OtlpSpan[] }[] }[] }).resourceSpans;
    for (const resourceSpan of resourceSpans) {
      const resource = Object.fromEntries(resourceSpan.resource.attributes.map((attribute) => [attribute.key, otlpValue(attribute.value)]));
      for (const scope of resourceSpan.scopeSpans) for (const span of scope.spans) found.push({ span, resource });
    }
  }
  return found;
}

/** An OTLP JSON AnyValue as a plain value. */
export function otlpValue(value: Record<string, unknown>): unknown {
  if ('stringValue' in value) return value.stringValue;
  if ('boolValue' in value) return value.boolValue;
  if ('intValue' in value) return Number(value.intValue);
  if ('doubleValue' in value) return value.doubleValue;
  if ('arrayValue' in value) return ((value.arrayValue as { values?: Record<string, unknown>[] }).values ?? []).map(otlpValue);
  return undefined;
}

export function otlpAttributes(span: OtlpSpan): Record<string, unknown> {
  return Object.fromEntries(span.attributes.map((attribute) => [attribute.key, otlpValue(attribute.value)]));
}

export const t0 = 1_700_000_000_000;

/**
 * A three-turn support session written by hand (times relative to t0):
 *   turn 1: context 10 % of the window; a call (800 in + 200 cache read, 50 out, 1 s, $0.01) asking for
 *           lookup {id: 1} (ok, 100 ms) and search {q: "x"} (fails, 40 ms)
 *   turn 2: context 75 % (anomaly journaled); a call (1,500 in, 100 out, 2 s, $0.02) asking for lookup {id: 1} again (fails, 50 ms)
 *   turn 3: context 50 %; a call (2,000 in, 200 out, 0.5 s, $0.03) that ends the session
 */
export function supportJournal(sessionId = 'ses_support'): SessionEvent[] {
  const journal = handJournal(sessionId);
  const t = t0;
  const context = (turn: number, total: number, utilization: number): EventBody => ({ type: 'context-assemble', turn, requestHash: `req${turn}`, messageCount: turn * 2 - 1, tokens: { system: 100, tools: 200, history: total - 300, total }, tokenCounting: 'tokenizer', durationMs: 5, windowTokens: 10_000, utilization });
  journal.add({ type: 'session-start', agent: { name: 'support', instructionsHash: 'hash1', tools: ['lookup', 'search', 'refund'] }, model: { provider: 'anthropic', modelId: 'claude-x' }, input: 'Where is my order?', limits: { ...limits, maxCostUsd: 1 } }, t);
  journal.add({ type: 'turn-start', turn: 1 }, t + 10);
  journal.add(context(1, 1000, 0.1), t + 15);
  journal.add({ type: 'model-request', turn: 1, requestHash: 'req1', provider: 'anthropic', model: 'claude-x', streaming: true }, t + 15);
  journal.add({ type: 'model-response', turn: 1, responseId: 'msg_a', model: 'claude-x-20250101', content: [{ type: 'text', text: 'Let me look.' }, { type: 'tool_use', id: 'c1', name: 'lookup', input: { id: 1 } }, { type: 'tool_use', id: 'c2', name: 'search', input: { q: 'x' } }], stopReason: 'tool_use', providerStopReason: 'tool_use', usage: usage(800, 50, 200, 0), costUsd: 0.01, latencyMs: 1000, retries: 1 }, t + 1015);
  journal.add({ type: 'tool-request', turn: 1, callId: 'c1', tool: 'lookup', input: { id: 1 }, idempotencyKey: 'idem_1' }, t + 1016);
  journal.add({ type: 'tool-request', turn: 1, callId: 'c2', tool: 'search', input: { q: 'x' }, idempotencyKey: 'idem_2' }, t + 1016);
  journal.add({ type: 'tool-decision', turn: 1, callId: 'c1', tool: 'lookup', decision: 'allow', rule: 'default', reason: 'read-only', risk: 'read' }, t + 1017);
  journal.add({ type: 'tool-decision', turn: 1, callId: 'c2', tool: 'search', decision: 'allow', rule: 'default', reason: 'read-only', risk: 'read' }, t + 1017);
  journal.add({ type: 'tool-error', turn: 1, callId: 'c2', tool: 'search', error: { code: 'tool-timeout', message: 'search timed out', fault: 'tool', retryable: false }, latencyMs: 40 }, t + 1057);
  journal.add({ type: 'tool-result', turn: 1, callId: 'c1', tool: 'lookup', output: 'order 1: shipped', latencyMs: 100 }, t + 1117);
  journal.add({ type: 'turn-start', turn: 2 }, t + 1120);
  journal.add(context(2, 7500, 0.75), t + 1125);
  journal.add({ type: 'anomaly', turn: 2, signal: 'context-utilization', threshold: 0.7, value: 0.75, message: 'context at 75 %' }, t + 1125);
  journal.add({ type: 'model-request', turn: 2, requestHash: 'req2', provider: 'anthropic', model: 'claude-x', streaming: true }, t + 1126);
  journal.add({ type: 'model-response', turn: 2, responseId: 'msg_b', model: 'claude-x-20250101', content: [{ type: 'tool_use', id: 'c3', name: 'lookup', input: { id: 1 } }], stopReason: 'tool_use', providerStopReason: 'tool_use', usage: usage(1500, 100), costUsd: 0.02, latencyMs: 2000, retries: 0 }, t + 3126);
  journal.add({ type: 'tool-request', turn: 2, callId: 'c3', tool: 'lookup', input: { id: 1 }, idempotencyKey: 'idem_3' }, t + 3127);
  journal.add({ type: 'tool-decision', turn: 2, callId: 'c3', tool: 'lookup', decision: 'allow', rule: 'default', reason: 'read-only', risk: 'read' }, t + 3127);
  journal.add({ type: 'tool-error', turn: 2, callId: 'c3', tool: 'lookup', error: { code: 'tool-failed', message: 'lookup backend down', fault: 'tool', retryable: false }, latencyMs: 50 }, t + 3178);
  journal.add({ type: 'turn-start', turn: 3 }, t + 3180);
  journal.add(context(3, 5000, 0.5), t + 3185);
  journal.add({ type: 'model-request', turn: 3, requestHash: 'req3', provider: 'anthropic', model: 'claude-x', streaming: true }, t + 3186);
  journal.add({ type: 'model-response', turn: 3, responseId: 'msg_c', model: 'claude-x-20250101', content: [{ type: 'text', text: 'It shipped.' }], stopReason: 'end_turn', providerStopReason: 'end_turn', usage: usage(2000, 200), costUsd: 0.03, latencyMs: 500, retries: 0 }, t + 3686);
  journal.add({ type: 'session-end', status: 'completed', output: 'It shipped.', error: null, turns: 3, usage: usage(4300, 350, 200, 0), costUsd: 0.06 }, t + 3690);
  return journal.events;
}
