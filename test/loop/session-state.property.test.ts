import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyEvent, applyEvents, foldEvents } from '../../src/loop/index.ts';
import type { SessionEvent } from '../../src/spec/index.ts';
import { generateJournal, journalArbitrary, sessionStart } from '../helpers/journal-generator.ts';

describe('the session-state fold', () => {
  it('folding a prefix and then the rest equals folding the whole journal, at every split', () => {
    fc.assert(
      fc.property(journalArbitrary, (events) => {
        const whole = foldEvents(events);
        for (let split = 1; split <= events.length; split += 1) {
          const prefix = foldEvents(events.slice(0, split));
          expect(applyEvents(prefix, events.slice(split))).toEqual(whole);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('one event at a time gives the same state as the batch, and never changes the state it was given', () => {
    fc.assert(
      fc.property(journalArbitrary, fc.nat(), (events, cut) => {
        const split = 1 + (cut % events.length);
        const base = foldEvents(events.slice(0, split));
        const before = structuredClone(base);
        let stepwise = base;
        for (const event of events.slice(split)) stepwise = applyEvent(stepwise, event);
        expect(stepwise).toEqual(applyEvents(base, events.slice(split)));
        expect(base).toEqual(before);
      }),
      { numRuns: 150 },
    );
  });

  it('the generated journals reach the states that matter: tool outcomes of every kind, sagas and each end', () => {
    const ends = new Set<string>();
    let unknownOutcomes = 0;
    let compensations = 0;
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return Math.floor(seed / 65536) % 1000;
    };
    for (let run = 0; run < 400; run += 1) {
      const values = Array.from({ length: 64 }, random);
      const state = foldEvents(generateJournal(values));
      if (state.end !== null) ends.add(state.end.status);
      unknownOutcomes += state.effectCalls.filter((call) => call.outcome === 'unknown').length;
      compensations += state.compensation?.results.size ?? 0;
    }
    expect([...ends].sort()).toEqual(['cancelled', 'completed', 'failed']);
    expect(unknownOutcomes).toBeGreaterThan(0);
    expect(compensations).toBeGreaterThan(0);
  });

  it('an event whose type the fold does not know is a corrupt journal, not silently skipped', () => {
    const start = sessionStart();
    const stranger = { v: 1, sessionId: start.sessionId, seq: 2, at: 1, type: 'from-the-future' } as unknown as SessionEvent;
    expect(() => foldEvents([start, stranger])).toThrow(expect.objectContaining({ code: 'journal-corrupt', message: expect.stringContaining('from-the-future') }));
  });

  it('closing a turn twice from one state gives the same result blocks, each with its own call\'s outcome', () => {
    const start = sessionStart();
    const usage = { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 };
    const content = [
      { type: 'tool_use' as const, id: 'a', name: 'look', input: {} },
      { type: 'tool_use' as const, id: 'b', name: 'look', input: {} },
    ];
    const bodies = [
      { type: 'turn-start', turn: 1 },
      { type: 'model-response', turn: 1, responseId: 'r', model: 'm', content, stopReason: 'tool_use', providerStopReason: 'tool_use', usage, costUsd: 0, latencyMs: 1, retries: 0 },
      { type: 'tool-request', turn: 1, callId: 'a', tool: 'look', input: {}, idempotencyKey: 'ka' },
      { type: 'tool-request', turn: 1, callId: 'b', tool: 'look', input: {}, idempotencyKey: 'kb' },
      { type: 'tool-result', turn: 1, callId: 'a', tool: 'look', output: 'found a', latencyMs: 0 },
      { type: 'tool-error', turn: 1, callId: 'b', tool: 'look', error: { code: 'tool-failed', message: 'no b', fault: 'tool', retryable: false }, latencyMs: 0 },
    ];
    const events = bodies.map((body, index) => ({ ...body, v: 1, sessionId: start.sessionId, seq: index + 2, at: index }) as SessionEvent);
    const state = foldEvents([start, ...events]);
    const next = { v: 1, sessionId: start.sessionId, seq: state.lastSeq + 1, at: 9, type: 'turn-start', turn: 2 } as SessionEvent;
    const previewed = applyEvent(state, next).messages.at(-1)!.content;
    const written = applyEvent(state, { ...next }).messages.at(-1)!.content;
    expect(previewed).toEqual([
      { type: 'tool_result', toolUseId: 'a', content: 'found a', isError: false },
      { type: 'tool_result', toolUseId: 'b', content: 'Error (tool-failed): no b', isError: true },
    ]);
    previewed.forEach((block, index) => expect(written[index]).toBe(block));
  });

  it('a batch of 20,000 events folds in one pass: the call table is copied once per batch, not once per event', () => {
    const start = sessionStart();
    const count = 10_000;
    const content = Array.from({ length: count }, (_, index) => ({ type: 'tool_use' as const, id: `c${index}`, name: 'look', input: { index } }));
    const opening = [
      { type: 'turn-start', turn: 1 },
      { type: 'model-response', turn: 1, responseId: 'r', model: 'm', content, stopReason: 'tool_use', providerStopReason: 'tool_use', usage: { inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0 }, costUsd: 0, latencyMs: 1, retries: 0 },
    ];
    const calls = content.flatMap((use) => [
      { type: 'tool-request', turn: 1, callId: use.id, tool: use.name, input: use.input, idempotencyKey: `k${use.id}` },
      { type: 'tool-error', turn: 1, callId: use.id, tool: use.name, error: { code: 'tool-call-limit', message: 'not run', fault: 'model', retryable: false }, latencyMs: 0 },
    ]);
    const events = [...opening, ...calls].map((body, index) => ({ ...body, v: 1, sessionId: start.sessionId, seq: index + 2, at: index }) as SessionEvent);
    const copies = { count: 0 };
    const originalMap = globalThis.Map;
    // Count Map constructions that copy an existing table: the O(n²) fold made one per event.
    class CountingMap<K, V> extends originalMap<K, V> {
      constructor(entries?: Iterable<readonly [K, V]> | null) {
        super(entries ?? undefined);
        if (entries instanceof originalMap && entries.size > 0) copies.count += 1;
      }
    }
    globalThis.Map = CountingMap as MapConstructor;
    let state;
    try {
      state = applyEvents(foldEvents([start]), events);
    } finally {
      globalThis.Map = originalMap;
    }
    expect(state.toolCalls.size).toBe(count);
    expect([...state.toolCalls.values()].every((call) => call.outcome?.type === 'tool-error')).toBe(true);
    expect(copies.count).toBeLessThanOrEqual(2);
  });
});
