import { describe, expect, it } from 'vitest';
import type { SessionEvent } from '../../src/spec/events.ts';
import { validateJournal } from '../../src/store/index.ts';
import { sampleSession, sessionEndBody, stampEvents } from '../../src/testing/contracts/journal-samples.ts';

// The sample: 1 session-start, 2 turn-start 1, 3 context-assemble, 4 model-request 1, 5 model-response 1,
// 6 tool-request toolu_01, 7 tool-result toolu_01, 8 turn-start 2, 9 context-assemble, 10 model-request 2,
// 11 model-response 2, 12 session-end.
const sample = sampleSession('ses_a');

function event(seq: number): SessionEvent {
  const found = sample[seq - 1];
  if (found === undefined) throw new Error(`The sample has no seq ${seq}.`);
  return found;
}

function renumbered(events: readonly SessionEvent[]): SessionEvent[] {
  return events.map((entry, index) => ({ ...entry, seq: index + 1 }));
}

function changed(seq: number, change: Record<string, unknown>): SessionEvent[] {
  return sample.map((entry) => (entry.seq === seq ? ({ ...entry, ...change } as SessionEvent) : entry));
}

function inserted(afterSeq: number, extra: SessionEvent): SessionEvent[] {
  return renumbered([...sample.slice(0, afterSeq), extra, ...sample.slice(afterSeq)]);
}

function problemsOf(events: readonly SessionEvent[]): readonly string[] {
  const result = validateJournal(events);
  expect(result.valid).toBe(result.problems.length === 0);
  return result.problems;
}

describe('validateJournal', () => {
  it('accepts a complete session', () => {
    expect(validateJournal(sample)).toEqual({ valid: true, problems: [] });
  });

  it('accepts a session cut short by a crash: no session-end, a tool call without its outcome', () => {
    expect(problemsOf(sample.slice(0, 6))).toEqual([]);
  });

  it('rejects an empty journal', () => {
    expect(problemsOf([])).toEqual([expect.stringMatching(/empty/)]);
  });

  it('finds seqs that do not start at 1', () => {
    expect(problemsOf(sample.map((entry) => ({ ...entry, seq: entry.seq + 1 })))[0]).toMatch(/^seq 2: expected seq 1/);
  });

  it('finds a gap in the seqs', () => {
    const gapped = sample.map((entry) => (entry.seq >= 8 ? { ...entry, seq: entry.seq + 1 } : entry));
    expect(problemsOf(gapped)[0]).toMatch(/^seq 9: expected seq 8/);
  });

  it('finds an event of an unsupported version', () => {
    expect(problemsOf(changed(3, { v: 2 }))).toEqual([expect.stringMatching(/^seq 3: version 2 is not supported/)]);
  });

  it('finds an event of another session', () => {
    expect(problemsOf(changed(4, { sessionId: 'ses_b' }))).toEqual([expect.stringMatching(/^seq 4: belongs to session ses_b, not ses_a/)]);
  });

  it('finds a journal that does not begin with session-start', () => {
    expect(problemsOf(renumbered(sample.slice(1)))).toEqual([expect.stringMatching(/^seq 1: the first event is turn-start, not session-start/)]);
  });

  it('finds a second session-start', () => {
    expect(problemsOf(inserted(2, event(1)))).toEqual([expect.stringMatching(/^seq 3: a second session-start/)]);
  });

  it('finds a second session-end', () => {
    const [extraEnd] = stampEvents('ses_a', [sessionEndBody('failed')], 13);
    expect(problemsOf([...sample, extraEnd!])).toEqual([expect.stringMatching(/^seq 13: a second session-end \(the first is at seq 12\)/)]);
  });

  it('finds events after the session-end', () => {
    const endedEarly = renumbered([...sample.slice(0, 7), event(12), ...sample.slice(7, 11)]);
    const problems = problemsOf(endedEarly);
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/^seq 9: turn-start after the session-end at seq 8; session-end must be last/);
  });

  it('finds a turn that skips a number', () => {
    expect(problemsOf(changed(8, { turn: 3 }))).toEqual([expect.stringMatching(/^seq 8: turn-start of turn 3 after turn 1/)]);
  });

  it('finds a first turn other than 1', () => {
    expect(problemsOf(changed(2, { turn: 0 }))[0]).toMatch(/^seq 2: turn-start of turn 0 after turn 0/);
  });

  it('finds a tool-result without a tool-request', () => {
    expect(problemsOf(changed(7, { callId: 'toolu_99' }))).toEqual([expect.stringMatching(/^seq 7: tool-result for callId toolu_99 without an earlier tool-request/)]);
  });

  it('finds a tool-result written before its tool-request', () => {
    const swapped = renumbered([...sample.slice(0, 5), event(7), event(6), ...sample.slice(7)]);
    expect(problemsOf(swapped)).toEqual([expect.stringMatching(/^seq 6: tool-result for callId toolu_01 without an earlier tool-request/)]);
  });

  it('finds a tool-error without a tool-request', () => {
    const [error] = stampEvents('ses_a', [
      { type: 'tool-error', turn: 1, callId: 'toolu_77', tool: 'lookup_order', error: { code: 'tool-timeout', message: 'Timed out.', fault: 'tool', retryable: false }, latencyMs: 5_000 },
    ], 8);
    expect(problemsOf(inserted(7, error!))).toEqual([expect.stringMatching(/^seq 8: tool-error for callId toolu_77 without an earlier tool-request/)]);
  });

  it('finds a second outcome for one call', () => {
    const [error] = stampEvents('ses_a', [
      { type: 'tool-error', turn: 1, callId: 'toolu_01', tool: 'lookup_order', error: { code: 'tool-failed', message: 'Failed.', fault: 'tool', retryable: false }, latencyMs: 5 },
    ], 8);
    expect(problemsOf(inserted(7, error!))).toEqual([expect.stringMatching(/^seq 8: a second outcome \(tool-error\) for callId toolu_01/)]);
  });

  it('finds a tool-request whose callId was already used', () => {
    expect(problemsOf(inserted(6, event(6)))).toEqual([expect.stringMatching(/^seq 7: a second tool-request with callId toolu_01/)]);
  });

  it('finds a model-response without a model-request of its turn', () => {
    expect(problemsOf(changed(10, { turn: 1 }))).toEqual([expect.stringMatching(/^seq 11: model-response of turn 2 without a model-request/)]);
  });

  it('finds two model-responses to one model-request', () => {
    expect(problemsOf(inserted(5, event(5)))).toEqual([expect.stringMatching(/^seq 6: model-response of turn 1 without a model-request of that turn awaiting it/)]);
  });

  it('reports every problem, not only the first', () => {
    const broken = changed(7, { callId: 'toolu_99' }).map((entry) => (entry.seq === 3 ? ({ ...entry, v: 7 } as SessionEvent) : entry));
    expect(problemsOf(broken)).toHaveLength(2);
  });
});
