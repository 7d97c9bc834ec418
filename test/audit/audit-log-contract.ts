import { describe, expect, it } from 'vitest';
import { isKeelError } from '../../src/errors/index.ts';
import { genesisHash, recordHash } from '../../src/store/index.ts';
import type { AuditLog } from '../../src/store/index.ts';
import { FakeClock } from '../../src/testing/fake-clock.ts';
import { appendSamples, readAll, sampleEntry } from './audit-samples.ts';

/** What every AuditLog backend must do, run against each of them. */
export function auditLogContract(name: string, open: (clock: FakeClock) => AuditLog): void {
  describe(`${name} audit log contract`, () => {
    it('chains records from seq 1, each linking to the hash of the one before', async () => {
      const clock = new FakeClock(Date.UTC(2026, 0, 15));
      const log = open(clock);
      const first = await log.append(sampleEntry(0));
      clock.advance(250);
      const second = await log.append(sampleEntry(1));
      expect(first).toMatchObject({ seq: 1, at: Date.UTC(2026, 0, 15), previousHash: genesisHash });
      expect(second).toMatchObject({ seq: 2, at: Date.UTC(2026, 0, 15) + 250, previousHash: first.hash });
      expect(first.hash).toBe(recordHash(first));
      expect(await log.head()).toEqual({ seq: 2, hash: second.hash });
      await log.close();
    });

    it('reads back exactly what it appended, from any seq, and by session', async () => {
      const log = open(new FakeClock());
      const appended = await appendSamples(log, 7);
      expect(await readAll(log.read())).toEqual(appended);
      expect(await readAll(log.read(5))).toEqual(appended.slice(4));
      expect(await readAll(log.read(8))).toEqual([]);
      expect((await readAll(log.readSession('ses_odd'))).map((record) => record.seq)).toEqual([2, 4, 6]);
      expect(await readAll(log.readSession('ses_none'))).toEqual([]);
      await log.close();
    });

    it('verifies an intact log and an empty one', async () => {
      const log = open(new FakeClock());
      expect(await log.verify()).toEqual({ ok: true, records: 0, head: { seq: 0, hash: genesisHash } });
      const appended = await appendSamples(log, 5);
      expect(await log.verify()).toEqual({ ok: true, records: 5, head: { seq: 5, hash: appended[4]!.hash } });
      await log.close();
    });

    it('stores JSON values: undefined fields vanish, dates become text, lone surrogates become U+FFFD', async () => {
      const log = open(new FakeClock());
      const record = await log.append(sampleEntry(0, { input: { when: new Date(Date.UTC(2026, 0, 1)), missing: undefined, broken: 'a\uD800b' } }));
      expect(record.input).toEqual({ when: '2026-01-01T00:00:00.000Z', broken: 'a\uFFFDb' });
      expect(await readAll(log.read())).toEqual([record]);
      expect((await log.verify()).ok).toBe(true);
      await log.close();
    });

    it('keeps only the fields of an entry, so extra ones cannot break verification later', async () => {
      const log = open(new FakeClock());
      const record = await log.append({ ...sampleEntry(0), extra: 'ignored' } as never);
      expect('extra' in record).toBe(false);
      expect((await log.verify()).ok).toBe(true);
      await log.close();
    });

    it('refuses a malformed entry with invalid-argument and writes nothing', async () => {
      const log = open(new FakeClock());
      await expect(log.append(sampleEntry(0, { decision: 'maybe' as never, turn: -1 }))).rejects.toSatisfy(
        (error: unknown) => isKeelError(error, 'invalid-argument') && /decision must be one of allow, deny, ask; turn must be a non-negative integer/.test(error.message),
      );
      expect(await log.head()).toEqual({ seq: 0, hash: genesisHash });
      await log.close();
    });

    it('fails with storage-failure once closed', async () => {
      const log = open(new FakeClock());
      await log.close();
      await expect(log.append(sampleEntry(0))).rejects.toSatisfy((error: unknown) => isKeelError(error, 'storage-failure'));
      await expect(log.head()).rejects.toSatisfy((error: unknown) => isKeelError(error, 'storage-failure'));
    });
  });
}
