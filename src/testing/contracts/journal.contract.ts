import { afterEach, describe, expect, it } from 'vitest';
import { isKeelError } from '../../errors/index.ts';
import type { KeelCode, KeelError } from '../../errors/index.ts';
import type { SessionEvent } from '../../spec/events.ts';
import type { Journal } from '../../spec/journal.ts';
import { sampleSession, sessionEndBody, sessionStartBody, stampEvents, toolResultBody, turnStartBody } from './journal-samples.ts';

export async function readAll(journal: Journal, sessionId: string, fromSeq?: number): Promise<SessionEvent[]> {
  const events: SessionEvent[] = [];
  for await (const event of journal.read(sessionId, fromSeq)) events.push(event);
  return events;
}

export async function expectKeelError(promise: Promise<unknown>, code: KeelCode): Promise<KeelError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!isKeelError(error, code)) throw new Error(`Expected a KeelError '${code}', got ${error === undefined ? 'success' : String(error)}`);
  return error;
}

/**
 * The behaviour every Journal backend must have. Run it from a test file with a factory for a fresh,
 * empty journal; `cleanup` (default: `close`) runs after each test for every journal created.
 * @example
 * // my-journal.test.ts, run by vitest
 * import { describeJournalContract } from 'keel/testing/contracts';
 * describeJournalContract('my journal', () => createMyJournal());
 */
export function describeJournalContract(
  name: string,
  createJournal: () => Promise<Journal> | Journal,
  cleanup: (journal: Journal) => Promise<void> | void = (journal) => journal.close(),
): void {
  describe(`Journal contract: ${name}`, () => {
    const opened: Journal[] = [];
    async function open(): Promise<Journal> {
      const journal = await createJournal();
      opened.push(journal);
      return journal;
    }
    afterEach(async () => {
      for (const journal of opened.splice(0)) await cleanup(journal);
    });

    const session = sampleSession('ses_a');

    it('appends in batches and reads every event back in seq order', async () => {
      const journal = await open();
      expect(await journal.append('ses_a', session.slice(0, 1), 0)).toBe(1);
      expect(await journal.append('ses_a', session.slice(1, 7), 1)).toBe(7);
      expect(await journal.append('ses_a', session.slice(7), 7)).toBe(session.length);
      expect(await readAll(journal, 'ses_a')).toEqual(session);
      expect(await journal.lastSeq('ses_a')).toBe(session.length);
    });

    it('reads from a given seq onwards', async () => {
      const journal = await open();
      await journal.append('ses_a', session, 0);
      expect(await readAll(journal, 'ses_a', 5)).toEqual(session.slice(4));
      expect(await readAll(journal, 'ses_a', session.length)).toEqual(session.slice(-1));
      expect(await readAll(journal, 'ses_a', session.length + 1)).toEqual([]);
    });

    it('has nothing, at seq 0, for a session never written', async () => {
      const journal = await open();
      await journal.append('ses_a', session, 0);
      expect(await readAll(journal, 'ses_unknown')).toEqual([]);
      expect(await journal.lastSeq('ses_unknown')).toBe(0);
    });

    it('reads more events than a backend would fetch at once', async () => {
      const journal = await open();
      const bodies = Array.from({ length: 600 }, (_, index) => toolResultBody(1, `call_${index}`, `output ${index}`));
      const events = stampEvents('ses_a', [sessionStartBody(), ...bodies]);
      await journal.append('ses_a', events.slice(0, 300), 0);
      await journal.append('ses_a', events.slice(300), 300);
      const read = await readAll(journal, 'ses_a');
      expect(read.map((event) => event.seq)).toEqual(events.map((event) => event.seq));
      expect(read).toEqual(events);
    });

    it('rejects a stale writer with a retryable conflict naming both seqs, and changes nothing', async () => {
      const journal = await open();
      await journal.append('ses_a', session.slice(0, 3), 0);
      const late = stampEvents('ses_a', [turnStartBody(1)], 2);
      const error = await expectKeelError(journal.append('ses_a', late, 1), 'journal-conflict');
      expect(error.details).toMatchObject({ sessionId: 'ses_a', expected: 1, actual: 3 });
      expect(error.retryable).toBe(true);
      const ahead = stampEvents('ses_a', [turnStartBody(1)], 6);
      expect((await expectKeelError(journal.append('ses_a', ahead, 5), 'journal-conflict')).details).toMatchObject({ expected: 5, actual: 3 });
      expect(await readAll(journal, 'ses_a')).toEqual(session.slice(0, 3));
    });

    it('rejects a first write that does not start at seq 0 of the session', async () => {
      const journal = await open();
      await expectKeelError(journal.append('ses_a', stampEvents('ses_a', [sessionStartBody()], 2), 1), 'journal-conflict');
      expect(await journal.lastSeq('ses_a')).toBe(0);
      expect(await journal.listSessions()).toEqual([]);
    });

    it('rejects a batch whose first seq is not expectedSeq + 1', async () => {
      const journal = await open();
      await journal.append('ses_a', session.slice(0, 2), 0);
      const error = await expectKeelError(journal.append('ses_a', stampEvents('ses_a', [turnStartBody(1)], 4), 2), 'journal-conflict');
      expect(error.details).toMatchObject({ expected: 3, actual: 4 });
      expect(await journal.lastSeq('ses_a')).toBe(2);
    });

    it('rejects a batch with a gap, writing none of it', async () => {
      const journal = await open();
      const [first, second, , fourth] = session;
      await journal.append('ses_a', [first!], 0);
      const error = await expectKeelError(journal.append('ses_a', [second!, fourth!], 1), 'journal-conflict');
      expect(error.details).toMatchObject({ expected: 3, actual: 4 });
      expect(await readAll(journal, 'ses_a')).toEqual([first]);
    });

    it('rejects events of another session, writing none of the batch', async () => {
      const journal = await open();
      const [first] = stampEvents('ses_a', [sessionStartBody()]);
      const [stranger] = stampEvents('ses_b', [turnStartBody(1)], 2);
      const error = await expectKeelError(journal.append('ses_a', [first!, stranger!], 0), 'journal-conflict');
      expect(error.details).toMatchObject({ expected: 'ses_a', actual: 'ses_b' });
      expect(await journal.lastSeq('ses_a')).toBe(0);
      expect(await journal.lastSeq('ses_b')).toBe(0);
    });

    it('lets exactly one of several concurrent writers with the same expectedSeq win', async () => {
      const journal = await open();
      await journal.append('ses_a', session.slice(0, 1), 0);
      const attempts = Array.from({ length: 5 }, (_, writer) => stampEvents('ses_a', [toolResultBody(1, `call_${writer}`, `writer ${writer}`)], 2));
      const outcomes = await Promise.allSettled(attempts.map((events) => journal.append('ses_a', events, 1)));
      const winners = outcomes.flatMap((outcome, writer) => (outcome.status === 'fulfilled' ? [writer] : []));
      expect(winners).toHaveLength(1);
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') expect(isKeelError(outcome.reason, 'journal-conflict')).toBe(true);
      }
      expect(await readAll(journal, 'ses_a')).toEqual([session[0], ...attempts[winners[0]!]!]);
    });

    it('keeps sessions apart: each has its own seqs, events and last seq', async () => {
      const journal = await open();
      const other = sampleSession('ses_b');
      await journal.append('ses_a', session.slice(0, 2), 0);
      await journal.append('ses_b', other.slice(0, 4), 0);
      await journal.append('ses_a', session.slice(2, 3), 2);
      expect(await readAll(journal, 'ses_a')).toEqual(session.slice(0, 3));
      expect(await readAll(journal, 'ses_b')).toEqual(other.slice(0, 4));
      expect(await journal.lastSeq('ses_a')).toBe(3);
      expect(await journal.lastSeq('ses_b')).toBe(4);
    });

    it('accepts an empty batch as a check of expectedSeq that writes nothing', async () => {
      const journal = await open();
      expect(await journal.append('ses_a', [], 0)).toBe(0);
      expect(await journal.listSessions()).toEqual([]);
      await journal.append('ses_a', session.slice(0, 2), 0);
      expect(await journal.append('ses_a', [], 2)).toBe(2);
      await expectKeelError(journal.append('ses_a', [], 1), 'journal-conflict');
    });

    it('lists sessions newest first with their summary, filtered by status and limited', async () => {
      const journal = await open();
      const write = async (sessionId: string, agent: string, startAt: number, status?: 'completed' | 'failed'): Promise<void> => {
        const bodies = [sessionStartBody(agent), turnStartBody(1), ...(status === undefined ? [] : [sessionEndBody(status)])];
        await journal.append(sessionId, stampEvents(sessionId, bodies, 1, startAt), 0);
      };
      await write('ses_1', 'triage', 1_000, 'completed');
      await write('ses_3', 'support', 3_000);
      await write('ses_2', 'billing', 2_000, 'failed');
      await write('ses_4', 'support', 4_000, 'completed');

      const all = await journal.listSessions();
      expect(all.map((summary) => summary.sessionId)).toEqual(['ses_4', 'ses_3', 'ses_2', 'ses_1']);
      expect(all[2]).toEqual({ sessionId: 'ses_2', agent: 'billing', startedAt: 2_000, updatedAt: 2_002, lastSeq: 3, status: 'failed' });
      expect(all[1]).toMatchObject({ agent: 'support', lastSeq: 2, status: null });
      expect((await journal.listSessions({ status: 'open' })).map((summary) => summary.sessionId)).toEqual(['ses_3']);
      expect((await journal.listSessions({ status: 'completed' })).map((summary) => summary.sessionId)).toEqual(['ses_4', 'ses_1']);
      expect((await journal.listSessions({ status: 'cancelled' }))).toEqual([]);
      expect((await journal.listSessions({ limit: 2 })).map((summary) => summary.sessionId)).toEqual(['ses_4', 'ses_3']);
      expect((await journal.listSessions({ status: 'completed', limit: 1 })).map((summary) => summary.sessionId)).toEqual(['ses_4']);
    });

    it('moves a session from open to its end status when session-end is appended', async () => {
      const journal = await open();
      await journal.append('ses_a', session.slice(0, -1), 0);
      expect(await journal.listSessions({ status: 'open' })).toHaveLength(1);
      const end = session.at(-1)!;
      await journal.append('ses_a', [end], session.length - 1);
      expect(await journal.listSessions({ status: 'open' })).toEqual([]);
      expect(await journal.listSessions({ status: 'completed' })).toEqual([
        { sessionId: 'ses_a', agent: 'support-agent', startedAt: session[0]!.at, updatedAt: end.at, lastSeq: session.length, status: 'completed' },
      ]);
    });

    it('rejects an event version it cannot read, writing none of the batch', async () => {
      const journal = await open();
      const [start, turn] = stampEvents('ses_a', [sessionStartBody(), turnStartBody(1)]);
      const future = { ...turn!, v: 99 } as SessionEvent;
      await expectKeelError(journal.append('ses_a', [start!, future], 0), 'invalid-argument');
      expect(await journal.lastSeq('ses_a')).toBe(0);
    });

    it('round-trips nested content, unicode and a 1 MB body exactly', async () => {
      const journal = await open();
      const unicode = 'Grüße, 你好, مرحبا, 🧪👩🏽‍🔬, e\u0301, a\u0000b, lone \ud800 surrogate, "quotes" \\ and \n newlines';
      const large = 'x'.repeat(1024 * 1024 - 3) + '✓';
      const events = stampEvents('ses_a', [
        { ...sessionStartBody('agent-ü', unicode), parentSessionId: 'ses_parent' },
        { type: 'tool-request', turn: 1, callId: 'c1', tool: 'search', input: { query: unicode, nested: { list: [1, 2.5, -0.001, null, true, { deep: ['a', { deeper: [] }] }], empty: {} } }, idempotencyKey: 'k' },
        toolResultBody(1, 'c1', large),
      ]);
      await journal.append('ses_a', events, 0);
      const read = await readAll(journal, 'ses_a');
      expect(read).toEqual(events);
      expect(JSON.stringify(read)).toBe(JSON.stringify(events));
    });

    it('keeps what it stored when the caller changes the objects it appended or read', async () => {
      const journal = await open();
      const events = stampEvents('ses_a', [sessionStartBody()]);
      const expected = structuredClone(events);
      await journal.append('ses_a', events, 0);
      (events[0] as { input: string }).input = 'changed after append';
      const [read] = await readAll(journal, 'ses_a');
      try {
        (read as { input: string }).input = 'changed after read';
        (read as unknown as { agent: { tools: string[] } }).agent.tools.push('injected');
      } catch {
        // A backend may hand out frozen events; refusing the change is as good as ignoring it.
      }
      expect(await readAll(journal, 'ses_a')).toEqual(expected);
    });

    it('fails with storage-failure once closed, and closing twice is harmless', async () => {
      const journal = await open();
      await journal.append('ses_a', session.slice(0, 1), 0);
      await journal.close();
      await journal.close();
      await expectKeelError(journal.append('ses_a', session.slice(1, 2), 1), 'storage-failure');
    });
  });
}
