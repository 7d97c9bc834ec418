import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { isKeelError } from '../../src/errors/index.ts';
import { chainRecord, createSqliteAuditLog, createSqliteStore, genesisHash, recordHash } from '../../src/store/index.ts';
import type { AuditVerification } from '../../src/store/index.ts';
import { createTemporaryFolders } from '../store/temporary-folder.ts';
import { auditLogContract } from './audit-log-contract.ts';
import { appendSamples, readAll, sampleEntry } from './audit-samples.ts';

const folders = createTemporaryFolders();
afterAll(() => folders.removeAll());

auditLogContract('SQLite', (clock) => createSqliteAuditLog({ path: folders.databasePath(), clock }));

/** A log of five records in a fresh file, and a raw connection with the append-only triggers dropped, as an attacker would. */
async function tamperable(count = 5) {
  const path = folders.databasePath();
  const log = createSqliteAuditLog({ path });
  const records = await appendSamples(log, count);
  const raw = new Database(path);
  raw.exec('DROP TRIGGER audit_records_append_only_update; DROP TRIGGER audit_records_append_only_delete;');
  return { path, log, records, raw };
}

function expectBad(result: AuditVerification, firstBadSeq: number, problem: RegExp): void {
  expect(result.ok).toBe(false);
  if (result.ok) return;
  expect(result.firstBadSeq).toBe(firstBadSeq);
  expect(result.problem).toMatch(problem);
}

describe('SQLite audit log', () => {
  it('keeps the chain across close and reopen, and continues it', async () => {
    const path = folders.databasePath();
    const first = createSqliteAuditLog({ path });
    const appended = await appendSamples(first, 3);
    await first.close();
    const second = createSqliteAuditLog({ path });
    expect(await readAll(second.read())).toEqual(appended);
    const next = await second.append(sampleEntry(3));
    expect(next).toMatchObject({ seq: 4, previousHash: appended[2]!.hash });
    expect(await second.verify()).toMatchObject({ ok: true, records: 4 });
    await second.close();
  });

  it('keeps one chain when two connections append in turn', async () => {
    const path = folders.databasePath();
    const left = createSqliteAuditLog({ path });
    const right = createSqliteAuditLog({ path });
    for (let index = 0; index < 6; index += 1) await (index % 2 === 0 ? left : right).append(sampleEntry(index));
    expect(await left.verify()).toMatchObject({ ok: true, records: 6 });
    expect((await readAll(right.read())).map((record) => record.callId)).toEqual(['call_0', 'call_1', 'call_2', 'call_3', 'call_4', 'call_5']);
    await left.close();
    await right.close();
  });

  it('shares a database with the journal and blobs without closing it', async () => {
    const store = createSqliteStore({ path: folders.databasePath() });
    const log = createSqliteAuditLog({ database: store.database });
    await log.append(sampleEntry(0));
    await log.close();
    expect(await store.blobs.put('still open')).toMatch(/^[0-9a-f]{64}$/);
    await store.close();
  });

  it('refuses UPDATE and DELETE through SQL while its triggers are in place', async () => {
    const path = folders.databasePath();
    const log = createSqliteAuditLog({ path });
    await appendSamples(log, 2);
    const raw = new Database(path);
    expect(() => raw.prepare("UPDATE audit_records SET rule = 'x' WHERE seq = 1").run()).toThrow(/append-only/);
    expect(() => raw.prepare('DELETE FROM audit_records WHERE seq = 2').run()).toThrow(/append-only/);
    raw.close();
    expect(await log.verify()).toMatchObject({ ok: true, records: 2 });
    await log.close();
  });

  describe('tamper detection', () => {
    it('finds a field edited in SQLite and names its record', async () => {
      const { log, raw } = await tamperable();
      raw.prepare(`UPDATE audit_records SET input = '{"amount":1,"orderId":"ord_2","note":null}' WHERE seq = 3`).run();
      expectBad(await log.verify(), 3, /^record 3 was changed after it was written: its content hashes to [0-9a-f]{12}…, not to its stored hash [0-9a-f]{12}…$/);
      raw.close();
      await log.close();
    });

    it('finds an edited number, approver or error, each at its own record', async () => {
      const edits = [
        ['UPDATE audit_records SET duration_ms = 0.5 WHERE seq = 2', 2],
        ["UPDATE audit_records SET approver = 'someone-else' WHERE seq = 4", 4],
        ["UPDATE audit_records SET error_message = 'all fine' WHERE seq = 3", 3],
        ["UPDATE audit_records SET decision = 'deny' WHERE seq = 5", 5],
        ['UPDATE audit_records SET input_edited = 0 WHERE seq = 4', 4],
      ] as const;
      for (const [sql, seq] of edits) {
        const { log, raw } = await tamperable();
        raw.prepare(sql).run();
        expectBad(await log.verify(), seq, new RegExp(`^record ${seq} was changed after it was written`));
        raw.close();
        await log.close();
      }
    });

    it('finds an edit that recomputed the record\'s own hash, at that record, because the next one no longer links', async () => {
      const { log, raw, records } = await tamperable();
      const forged = { ...records[1]!, rule: 'forged' };
      raw.prepare("UPDATE audit_records SET rule = 'forged', hash = ? WHERE seq = 2").run(recordHash(forged));
      expectBad(await log.verify(), 3, /^record 3 does not follow record 2: it names [0-9a-f]{12}… as its predecessor's hash, but record 2 hashes to/);
      raw.close();
      await log.close();
    });

    it('finds a removed row and names the missing record', async () => {
      const { log, raw } = await tamperable();
      raw.prepare('DELETE FROM audit_records WHERE seq = 3').run();
      expectBad(await log.verify(), 3, /^record 3 is missing: the log goes from record 2 to record 4$/);
      raw.close();
      await log.close();
    });

    it('finds two rows whose seq were swapped, at the first of them', async () => {
      const { log, raw } = await tamperable();
      raw.exec('UPDATE audit_records SET seq = -1 WHERE seq = 3; UPDATE audit_records SET seq = 3 WHERE seq = 4; UPDATE audit_records SET seq = 4 WHERE seq = -1;');
      expectBad(await log.verify(), 3, /^record 3 does not follow record 2: .*records were removed or reordered here/);
      raw.close();
      await log.close();
    });

    it('finds the last rows removed, through the head', async () => {
      const { log, raw } = await tamperable();
      raw.prepare('DELETE FROM audit_records WHERE seq >= 4').run();
      expectBad(await log.verify(), 4, /^records 4 to 5 are missing: the log ends at record 3, but its head says 5 records were written/);
      raw.close();
      await log.close();
    });

    it('finds a row that cannot be read any more, and read() refuses it as audit-tampered', async () => {
      const { log, raw } = await tamperable();
      raw.prepare("UPDATE audit_records SET input = '{not json' WHERE seq = 2").run();
      expectBad(await log.verify(), 2, /^record 2 cannot be read \(its input is not valid JSON\)/);
      await expect(readAll(log.read())).rejects.toSatisfy((error: unknown) => isKeelError(error, 'audit-tampered') && /Audit record 2/.test(error.message));
      raw.close();
      await log.close();
    });

    it('finds a well-formed record inserted outside the log, through the head', async () => {
      const { log, raw, records } = await tamperable(2);
      const forged = chainRecord(sampleEntry(9), { seq: 2, hash: records[1]!.hash }, Date.now());
      raw
        .prepare(
          `INSERT INTO audit_records (seq, at, session_id, turn, call_id, agent, tool, input, decision, rule, approver, input_edited,
             result_digest, output_chars, output_blob, duration_ms, error_code, error_message, findings, previous_hash, hash)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(forged.seq, forged.at, forged.sessionId, forged.turn, forged.callId, forged.agent, forged.tool, JSON.stringify(forged.input), forged.decision, forged.rule,
          forged.approver, forged.inputEdited ? 1 : 0, forged.resultDigest, forged.outputChars, forged.outputBlob, forged.durationMs, null, null,
          JSON.stringify(forged.findings), forged.previousHash, forged.hash);
      expectBad(await log.verify(), 3, /^record 3 was added outside the audit log: its head says the log ends at record 2$/);
      raw.close();
      await log.close();
    });

    it('refuses to extend a broken chain', async () => {
      const { log, raw } = await tamperable();
      raw.prepare('DELETE FROM audit_records WHERE seq = 5').run();
      await expect(log.append(sampleEntry(9))).rejects.toSatisfy(
        (error: unknown) => isKeelError(error, 'audit-tampered') && /ends at record 4, but its head says 5; refusing to extend a broken chain/.test(error.message),
      );
      raw.close();
      await log.close();
    });

    it('reports a missing head row', async () => {
      const { log, raw } = await tamperable(3);
      raw.prepare('DELETE FROM audit_head').run();
      expectBad(await log.verify(), 4, /head row is missing, so records after record 3 may have been removed/);
      await expect(log.append(sampleEntry(9))).rejects.toSatisfy((error: unknown) => isKeelError(error, 'audit-tampered'));
      raw.close();
      await log.close();
    });
  });

  it('starts an empty database at the genesis head', async () => {
    const log = createSqliteAuditLog({ path: folders.databasePath() });
    expect(await log.head()).toEqual({ seq: 0, hash: genesisHash });
    await log.close();
  });
});
