import { afterEach, describe, expect, it } from 'vitest';
import type { AuditEntry, AuditLog, AuditRecord } from '../../spec/audit-log.ts';
import type { Clock } from '../../spec/clock.ts';
import { genesisHash, recordHash } from '../../store/audit-chain.ts';
import { FakeClock } from '../fake-clock.ts';
import { expectKeelError } from './journal.contract.ts';

/** A plausible audit entry; `index` varies the call so that records differ (sessions `ses_even` and `ses_odd`). */
export function sampleAuditEntry(index: number, overrides: Partial<AuditEntry> = {}): AuditEntry {
  const failed = index % 3 === 2;
  return {
    sessionId: index % 2 === 0 ? 'ses_even' : 'ses_odd',
    turn: 1 + Math.floor(index / 2),
    callId: `call_${index}`,
    agent: 'support',
    tool: index % 2 === 0 ? 'lookup_order' : 'issue_refund',
    input: { orderId: `ord_${index}`, amount: index * 10.5, note: index === 1 ? 'ünïcode ✓ 😀' : null },
    decision: index % 2 === 0 ? 'allow' : 'ask',
    rule: index % 2 === 0 ? 'default' : 'risk:irreversible',
    approver: index % 2 === 0 ? null : 'ops@example.com',
    inputEdited: index === 3,
    resultDigest: failed ? null : `${String(index).padStart(2, '0')}${'ab'.repeat(31)}`,
    outputChars: failed ? null : 100 + index,
    outputBlob: index === 4 ? 'cd'.repeat(32) : null,
    durationMs: 1.25 * (index + 1),
    error: failed ? { code: 'tool-failed', message: `attempt ${index} failed` } : null,
    findings: index === 0 ? [{ type: 'email', count: 2 }] : [],
    ...overrides,
  };
}

async function readRecords(iterable: AsyncIterable<AuditRecord>): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  for await (const record of iterable) records.push(record);
  return records;
}

/**
 * The behaviour every AuditLog backend must have. `createLog` builds a fresh, empty log that stamps records with
 * the given clock.
 */
export function describeAuditLogContract(name: string, createLog: (clock: Pick<Clock, 'now'>) => Promise<AuditLog> | AuditLog): void {
  describe(`AuditLog contract: ${name}`, () => {
    const opened: AuditLog[] = [];
    async function open(clock: Pick<Clock, 'now'> = new FakeClock()): Promise<AuditLog> {
      const log = await createLog(clock);
      opened.push(log);
      return log;
    }
    async function appendSamples(log: AuditLog, count: number): Promise<AuditRecord[]> {
      const records: AuditRecord[] = [];
      for (let index = 0; index < count; index += 1) records.push(await log.append(sampleAuditEntry(index)));
      return records;
    }
    afterEach(async () => {
      for (const log of opened.splice(0)) await log.close();
    });

    it('chains records from seq 1, each linking to the hash of the one before', async () => {
      const clock = new FakeClock(Date.UTC(2026, 0, 15));
      const log = await open(clock);
      const first = await log.append(sampleAuditEntry(0));
      clock.advance(250);
      const second = await log.append(sampleAuditEntry(1));
      expect(first).toMatchObject({ seq: 1, at: Date.UTC(2026, 0, 15), previousHash: genesisHash });
      expect(second).toMatchObject({ seq: 2, at: Date.UTC(2026, 0, 15) + 250, previousHash: first.hash });
      expect(first.hash).toBe(recordHash(first));
      expect(await log.head()).toEqual({ seq: 2, hash: second.hash });
    });

    it('reads back exactly what it appended, from any seq, and by session', async () => {
      const log = await open();
      const appended = await appendSamples(log, 7);
      expect(await readRecords(log.read())).toEqual(appended);
      expect(await readRecords(log.read(5))).toEqual(appended.slice(4));
      expect(await readRecords(log.read(8))).toEqual([]);
      expect((await readRecords(log.readSession('ses_odd'))).map((record) => record.seq)).toEqual([2, 4, 6]);
      expect(await readRecords(log.readSession('ses_none'))).toEqual([]);
    });

    it('verifies an intact log and an empty one', async () => {
      const log = await open();
      expect(await log.verify()).toEqual({ ok: true, records: 0, head: { seq: 0, hash: genesisHash } });
      const appended = await appendSamples(log, 5);
      expect(await log.verify()).toEqual({ ok: true, records: 5, head: { seq: 5, hash: appended[4]!.hash } });
    });

    it('keeps one unbroken chain when many appends run at once', async () => {
      const log = await open();
      const records = await Promise.all(Array.from({ length: 12 }, (_, index) => log.append(sampleAuditEntry(index))));
      expect(records.map((record) => record.seq).sort((left, right) => left - right)).toEqual(Array.from({ length: 12 }, (_, index) => index + 1));
      const read = await readRecords(log.read());
      read.forEach((record, index) => expect(record.previousHash).toBe(index === 0 ? genesisHash : read[index - 1]!.hash));
      expect(await log.verify()).toMatchObject({ ok: true, records: 12 });
    });

    it('stores JSON values: undefined fields vanish, dates become text, lone surrogates become U+FFFD', async () => {
      const log = await open();
      const record = await log.append(sampleAuditEntry(0, { input: { when: new Date(Date.UTC(2026, 0, 1)), missing: undefined, broken: 'a\uD800b', nul: 'a\u0000b' } }));
      expect(record.input).toEqual({ when: '2026-01-01T00:00:00.000Z', broken: 'a\uFFFDb', nul: 'a\u0000b' });
      expect(await readRecords(log.read())).toEqual([record]);
      expect((await log.verify()).ok).toBe(true);
    });

    it('round-trips an error message with control characters and a fractional duration exactly', async () => {
      const log = await open();
      const record = await log.append(sampleAuditEntry(2, { error: { code: 'tool-failed', message: 'bad byte \u0000 and \u0007 in output' }, durationMs: 0.125 }));
      expect(await readRecords(log.read())).toEqual([record]);
      expect((await log.verify()).ok).toBe(true);
    });

    it('keeps only the fields of an entry, so extra ones cannot break verification later', async () => {
      const log = await open();
      const record = await log.append({ ...sampleAuditEntry(0), extra: 'ignored' } as never);
      expect('extra' in record).toBe(false);
      expect((await log.verify()).ok).toBe(true);
    });

    it('refuses a malformed entry with invalid-argument and writes nothing', async () => {
      const log = await open();
      const error = await expectKeelError(log.append(sampleAuditEntry(0, { decision: 'maybe' as never, turn: -1 })), 'invalid-argument');
      expect(error.message).toMatch(/decision must be one of allow, deny, ask; turn must be a non-negative integer/);
      expect(await log.head()).toEqual({ seq: 0, hash: genesisHash });
    });

    it('fails with storage-failure once closed, and closing twice is harmless', async () => {
      const log = await open();
      await log.close();
      await log.close();
      await expectKeelError(log.append(sampleAuditEntry(0)), 'storage-failure');
      await expectKeelError(log.head(), 'storage-failure');
    });
  });
}
