import { afterEach, describe, expect, it } from 'vitest';
import type { CallLogChannel, CallLogEntry, CallLogStore } from '../../spec/call-log.ts';
import type { Clock } from '../../spec/clock.ts';
import { FakeClock } from '../fake-clock.ts';
import { expectKeelError } from './journal.contract.ts';

export function sampleCallLogEntry(turn: number, overrides: Partial<CallLogEntry> = {}): CallLogEntry {
  return {
    sessionId: 'ses_a',
    turn,
    requestHash: `${String(turn).padStart(2, '0')}${'ab'.repeat(31)}`,
    responseId: `msg_${turn}`,
    at: 1_700_000_000_000 + turn * 1_000,
    provider: 'anthropic',
    model: 'claude-sonnet-4-5',
    usage: { inputTokens: 1_200 + turn, outputTokens: 300, cacheReadTokens: 1_000, cacheWriteTokens: 0 },
    costUsd: 0.0123,
    prompt: `[{"role":"user","content":"turn ${turn}"}]`,
    response: `answer ${turn}`,
    redacted: true,
    ...overrides,
  };
}

/**
 * The behaviour every CallLogStore backend must have. `createLogs` builds fresh, empty storage and returns one store
 * per channel on it (both channels share the storage, each sees only its own entries), stamping purges with `clock`.
 */
export function describeCallLogContract(
  name: string,
  createLogs: (clock: Pick<Clock, 'now'>) => Promise<Readonly<Record<CallLogChannel, CallLogStore>>> | Readonly<Record<CallLogChannel, CallLogStore>>,
): void {
  describe(`CallLogStore contract: ${name}`, () => {
    const opened: CallLogStore[] = [];
    async function open(clock: Pick<Clock, 'now'> = new FakeClock(1_800_000_000_000)): Promise<Readonly<Record<CallLogChannel, CallLogStore>>> {
      const logs = await createLogs(clock);
      opened.push(logs.sampled, logs.audit);
      return logs;
    }
    afterEach(async () => {
      for (const log of opened.splice(0)) await log.close();
    });

    it('records calls once per (session, turn, response id) and reads a session in turn order', async () => {
      const { audit } = await open();
      expect(await audit.record(sampleCallLogEntry(2))).toBe(true);
      expect(await audit.record(sampleCallLogEntry(1))).toBe(true);
      expect(await audit.record(sampleCallLogEntry(1, { response: 'a second recording' }))).toBe(false);
      await audit.record(sampleCallLogEntry(1, { sessionId: 'ses_b' }));
      const read = await audit.read('ses_a');
      expect(read).toEqual([{ ...sampleCallLogEntry(1), purgedAt: null }, { ...sampleCallLogEntry(2), purgedAt: null }]);
      expect(await audit.read('ses_none')).toEqual([]);
    });

    it('keeps the two channels apart', async () => {
      const { audit, sampled } = await open();
      expect(audit.channel).toBe('audit');
      expect(sampled.channel).toBe('sampled');
      await audit.record(sampleCallLogEntry(1));
      expect(await sampled.record(sampleCallLogEntry(1, { prompt: null, response: null, redacted: false }))).toBe(true);
      expect(await sampled.read('ses_a')).toEqual([{ ...sampleCallLogEntry(1, { prompt: null, response: null, redacted: false }), purgedAt: null }]);
      expect((await audit.read('ses_a'))[0]?.prompt).toBe(sampleCallLogEntry(1).prompt);
    });

    it('erases the texts of entries older than the cutoff, once, and keeps their rows', async () => {
      const clock = new FakeClock(1_800_000_000_000);
      const { audit, sampled } = await open(clock);
      for (const turn of [1, 2, 3]) await audit.record(sampleCallLogEntry(turn));
      await audit.record(sampleCallLogEntry(4, { prompt: null, response: null }));
      await sampled.record(sampleCallLogEntry(1));
      const cutoff = sampleCallLogEntry(3).at;
      expect(await audit.purgeOlderThan(cutoff)).toEqual({ purged: 2 });
      expect(await audit.purgeOlderThan(cutoff)).toEqual({ purged: 0 });
      const read = await audit.read('ses_a');
      expect(read.map((entry) => [entry.turn, entry.prompt === null, entry.response === null, entry.purgedAt])).toEqual([
        [1, true, true, clock.now()],
        [2, true, true, clock.now()],
        [3, false, false, null],
        [4, true, true, null],
      ]);
      expect(read[0]).toMatchObject({ usage: sampleCallLogEntry(1).usage, requestHash: sampleCallLogEntry(1).requestHash, costUsd: 0.0123 });
      expect((await sampled.read('ses_a'))[0]?.purgedAt).toBeNull();
    });

    it('round-trips unicode, U+0000, a null cost and large texts exactly', async () => {
      const { audit } = await open();
      const entry = sampleCallLogEntry(1, { prompt: `Grüße 🧪 a\u0000b ${'p'.repeat(256 * 1024)}`, response: 'réponse \u0000', costUsd: null });
      await audit.record(entry);
      expect(await audit.read('ses_a')).toEqual([{ ...entry, purgedAt: null }]);
    });

    it('fails with storage-failure once closed, and closing twice is harmless', async () => {
      const { audit } = await open();
      await audit.close();
      await audit.close();
      await expectKeelError(audit.record(sampleCallLogEntry(1)), 'storage-failure');
    });
  });
}
