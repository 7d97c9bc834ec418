import { currentEventVersion } from '../../spec/events.ts';
import type { EventBody, SessionEvent, SessionStartEvent, SessionStatus } from '../../spec/events.ts';

// Builders of realistic journal events for contract suites and journal tests.

const zeroUsage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };

/** Stamps bodies with the envelope, numbered from `fromSeq`, one millisecond apart from `at`. */
export function stampEvents(sessionId: string, bodies: readonly EventBody[], fromSeq = 1, at = 1_750_000_000_000): SessionEvent[] {
  return bodies.map((body, index) => ({ ...body, v: currentEventVersion, sessionId, seq: fromSeq + index, at: at + index }) as SessionEvent);
}

export function sessionStartBody(agent = 'support-agent', input = 'Where is order ord_42?'): EventBody<SessionStartEvent> {
  return {
    type: 'session-start',
    agent: { name: agent, instructionsHash: 'a'.repeat(64), tools: ['lookup_order'] },
    model: { provider: 'anthropic', modelId: 'claude-sonnet-4-5' },
    input,
    limits: { maxTurns: 10, deadlineAt: null, maxInputTokens: null, maxOutputTokens: null, maxCostUsd: 1, maxIdenticalToolCalls: 3 },
  };
}

export function turnStartBody(turn: number): EventBody {
  return { type: 'turn-start', turn };
}

export function toolResultBody(turn: number, callId: string, output: string): EventBody {
  return { type: 'tool-result', turn, callId, tool: 'lookup_order', output, latencyMs: 12 };
}

export function sessionEndBody(status: SessionStatus, turns = 1): EventBody {
  return {
    type: 'session-end',
    status,
    output: status === 'completed' ? 'Order ord_42 shipped on Monday.' : null,
    error: status === 'failed' ? { code: 'model-server-error', message: 'The provider returned 500.', fault: 'model', retryable: true } : null,
    turns,
    usage: zeroUsage,
    costUsd: null,
  };
}

/** A complete, valid session: one turn with a tool call, a second turn that answers, and the end. */
export function sampleSession(sessionId: string, at = 1_750_000_000_000): SessionEvent[] {
  const usage = { inputTokens: 812, outputTokens: 64, cacheReadTokens: 0, cacheWriteTokens: 0 };
  return stampEvents(
    sessionId,
    [
      sessionStartBody(),
      turnStartBody(1),
      { type: 'context-assemble', turn: 1, requestHash: 'b'.repeat(64), messageCount: 1, tokens: { system: 120, tools: 90, history: 14, total: 224 }, tokenCounting: 'estimate', durationMs: 1 },
      { type: 'model-request', turn: 1, requestHash: 'b'.repeat(64), provider: 'anthropic', model: 'claude-sonnet-4-5', streaming: false },
      {
        type: 'model-response',
        turn: 1,
        responseId: 'msg_01',
        model: 'claude-sonnet-4-5-20250929',
        content: [
          { type: 'text', text: 'Let me look that up.' },
          { type: 'tool_use', id: 'toolu_01', name: 'lookup_order', input: { orderId: 'ord_42' } },
        ],
        stopReason: 'tool_use',
        providerStopReason: 'tool_use',
        usage,
        costUsd: 0.0034,
        latencyMs: 900,
        retries: 0,
      },
      { type: 'tool-request', turn: 1, callId: 'toolu_01', tool: 'lookup_order', input: { orderId: 'ord_42' }, idempotencyKey: 'idem_01' },
      toolResultBody(1, 'toolu_01', '{"status":"shipped","shippedAt":"Monday"}'),
      turnStartBody(2),
      { type: 'context-assemble', turn: 2, requestHash: 'c'.repeat(64), messageCount: 3, tokens: { system: 120, tools: 90, history: 80, total: 290 }, tokenCounting: 'estimate', durationMs: 1 },
      { type: 'model-request', turn: 2, requestHash: 'c'.repeat(64), provider: 'anthropic', model: 'claude-sonnet-4-5', streaming: false },
      {
        type: 'model-response',
        turn: 2,
        responseId: 'msg_02',
        model: 'claude-sonnet-4-5-20250929',
        content: [{ type: 'text', text: 'Order ord_42 shipped on Monday.' }],
        stopReason: 'end_turn',
        providerStopReason: 'end_turn',
        usage,
        costUsd: 0.0034,
        latencyMs: 700,
        retries: 0,
      },
      sessionEndBody('completed', 2),
    ],
    1,
    at,
  );
}
