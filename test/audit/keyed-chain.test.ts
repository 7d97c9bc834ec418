import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { existsSync, rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runAuditHead, runAuditVerify } from '../../src/cli/audit-command.ts';
import { createKeel, defineAgent, defineTool } from '../../src/index.ts';
import { createScriptedModel } from '../../src/model/index.ts';
import {
  chainRecord,
  createAuditSigner,
  createAuditVerifier,
  createSqliteAuditLog,
  defaultCheckpointPath,
  generateAuditKeyPair,
  readCheckpoints,
} from '../../src/store/index.ts';
import type { AuditHead, AuditVerification } from '../../src/store/index.ts';
import { createTemporaryFolders } from '../store/temporary-folder.ts';
import { appendSamples, sampleEntry } from './audit-samples.ts';

const folders = createTemporaryFolders();
afterAll(() => folders.removeAll());
const keys = generateAuditKeyPair();
const verifier = createAuditVerifier(keys.publicKey);

/** A signed log of `count` records, closed (so its head is checkpointed), and a raw connection without the append-only triggers. */
async function signedLog(count = 5) {
  const path = folders.databasePath();
  const log = createSqliteAuditLog({ path, signer: createAuditSigner(keys.privateKey) });
  const records = await appendSamples(log, count);
  await log.close();
  const raw = new Database(path);
  raw.exec('DROP TRIGGER audit_records_append_only_update; DROP TRIGGER audit_records_append_only_delete;');
  return { path, records, raw };
}

async function verify(path: string, options: Parameters<ReturnType<typeof createSqliteAuditLog>['verify']>[0] = {}): Promise<AuditVerification> {
  const log = createSqliteAuditLog({ path, readOnly: true });
  try {
    return await log.verify(options);
  } finally {
    await log.close();
  }
}

function expectBad(result: AuditVerification, firstBadSeq: number, problem: RegExp): void {
  expect(result).toMatchObject({ ok: false, firstBadSeq });
  if (!result.ok) expect(result.problem).toMatch(problem);
}

/** Rewrites records from `fromSeq` on as an attacker with write access would: content changed, every hash recomputed, head moved. */
function rehashFrom(raw: Database.Database, fromSeq: number, change: (seq: number) => Record<string, unknown> = () => ({})): void {
  const rows = raw.prepare('SELECT * FROM audit_records WHERE seq >= ? ORDER BY seq').all(fromSeq) as Array<Record<string, unknown>>;
  let previous = raw.prepare('SELECT hash FROM audit_records WHERE seq = ?').pluck().get(fromSeq - 1) as string | undefined;
  let head: AuditHead | undefined;
  for (const row of rows) {
    const entry = { ...sampleEntry(Number(row.seq) - 1), ...change(Number(row.seq)) };
    const record = chainRecord(entry, { seq: Number(row.seq) - 1, hash: previous ?? '0'.repeat(64) }, Number(row.at));
    raw.prepare('UPDATE audit_records SET tool = ?, previous_hash = ?, hash = ?, signature = NULL WHERE seq = ?').run(record.tool, record.previousHash, record.hash, record.seq);
    previous = record.hash;
    head = { seq: record.seq, hash: record.hash };
  }
  if (head !== undefined) raw.prepare('UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1').run(head.seq, head.hash);
}

describe('a keyed audit chain', () => {
  it('signs every record, and verifies with only the public key', async () => {
    const { path, records, raw } = await signedLog(4);
    raw.close();
    expect(records.every((record) => typeof record.signature === 'string')).toBe(true);
    expect(await verify(path, { verifier })).toMatchObject({ ok: true, records: 4, signed: 4, checkpointsMatched: 1 });
    expect(readCheckpoints(defaultCheckpointPath(path)).at(-1)).toMatchObject({ seq: 4, hash: records[3]!.hash });
  });

  it('finds a forged record appended with the head moved', async () => {
    const { path, raw } = await signedLog(3);
    raw.close();
    // Anyone who can write the database can append a well-chained record and move the head; only the key signs.
    const attacker = createSqliteAuditLog({ path, checkpointPath: false });
    await attacker.append(sampleEntry(9, { tool: 'wire_money' }));
    await attacker.close();
    expect(await verify(path)).toMatchObject({ ok: true, records: 4 });
    expectBad(await verify(path, { verifier }), 4, /record 4 has no signature/);
  });

  it('finds a tail truncated with the head moved back, by the checkpoints kept outside the database', async () => {
    const { path, records, raw } = await signedLog(5);
    raw.exec('DELETE FROM audit_records WHERE seq > 3');
    raw.prepare('UPDATE audit_head SET seq = 3, hash = ? WHERE id = 1').run(records[2]!.hash);
    raw.close();
    expectBad(await verify(path), 4, /shows record 5 was written; records were removed from the end/);
  });

  it('finds a fully re-hashed chain by its signatures and by its checkpoints', async () => {
    const { path, raw } = await signedLog(5);
    rehashFrom(raw, 2, (seq) => (seq === 2 ? { tool: 'cover_up' } : {}));
    raw.close();
    expectBad(await verify(path, { verifier }), 2, /record 2 has no signature/);
    expectBad(await verify(path), 5, /is not the record checkpoint of record 5 names/);
  });

  it('finds a wiped table and a reset head', async () => {
    const { path, raw } = await signedLog(5);
    raw.exec(`DELETE FROM audit_records; UPDATE audit_head SET seq = 0, hash = '${'0'.repeat(64)}' WHERE id = 1;`);
    raw.close();
    expectBad(await verify(path), 1, /the log ends at its start, but the checkpoint of record 5 shows record 5 was written/);
  });

  it('checks an exported head when the checkpoint file is gone too', async () => {
    const { path, records, raw } = await signedLog(5);
    const exported: string[] = [];
    expect(await runAuditHead({ database: path, json: false, out: (line) => exported.push(line), err: () => undefined })).toBe(0);
    expect(exported).toEqual([`5:${records[4]!.hash}`]);
    rehashFrom(raw, 1, (seq) => (seq === 3 ? { tool: 'cover_up' } : {}));
    raw.close();
    rmSync(defaultCheckpointPath(path));
    expect(await verify(path)).toMatchObject({ ok: true });
    const errors: string[] = [];
    const code = await runAuditVerify({ database: path, json: false, expectHead: exported[0]!, out: () => undefined, err: (line) => errors.push(line) });
    expect(code).toBe(1);
    expect(errors[0]).toMatch(/first bad record is 5: record 5 is not the record expected head names/);
  });

  it('rejects a signature made with another key, and a key that is not Ed25519', async () => {
    const { path, raw } = await signedLog(2);
    raw.close();
    const other = createAuditVerifier(generateAuditKeyPair().publicKey);
    expectBad(await verify(path, { verifier: other }), 1, /signature does not verify with this public key/);
    expect(() => createAuditVerifier('not a key')).toThrow(/KEEL_AUDIT_PUBLIC_KEY\) cannot be read/);
  });

  it('accepts unsigned records before the point where signing was turned on', async () => {
    const path = folders.databasePath();
    const unsigned = createSqliteAuditLog({ path });
    await appendSamples(unsigned, 2);
    await unsigned.close();
    const signed = createSqliteAuditLog({ path, signer: createAuditSigner(keys.privateKey) });
    await signed.append(sampleEntry(2));
    await signed.close();
    expectBad(await verify(path, { verifier }), 1, /record 1 has no signature/);
    expect(await verify(path, { verifier, allowUnsignedBefore: 3 })).toMatchObject({ ok: true, records: 3, signed: 1 });
  });

  it('refuses a checkpoint file that is not a regular file instead of hanging on it', async () => {
    const { path, raw } = await signedLog(2);
    raw.close();
    rmSync(defaultCheckpointPath(path));
    spawnSync('mkfifo', [defaultCheckpointPath(path)]);
    await expect(verify(path)).rejects.toMatchObject({ code: 'audit-tampered', message: expect.stringMatching(/is not a regular file/) });
    rmSync(defaultCheckpointPath(path));
  });

  it('writes no checkpoint file for a read-only open', async () => {
    const path = folders.databasePath();
    const log = createSqliteAuditLog({ path, checkpointPath: false });
    await appendSamples(log, 1);
    await log.close();
    await verify(path);
    expect(existsSync(defaultCheckpointPath(path))).toBe(false);
  });
});

describe('the audit log checked against the journal', () => {
  async function sessionWithToolCalls() {
    const model = createScriptedModel([
      { role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'tool_use', id: 'toolu_1', name: 'lookup', input: { who: 'ana' } }], usage: { input_tokens: 10, output_tokens: 5 } },
      { role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'tool_use', id: 'toolu_2', name: 'lookup', input: { who: 'bo' } }], usage: { input_tokens: 10, output_tokens: 5 } },
      { role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'text', text: 'done' }], usage: { input_tokens: 10, output_tokens: 5 } },
    ]);
    const lookup = defineTool({ name: 'lookup', description: 'x', input: z.object({ who: z.string() }), risk: 'read', execute: ({ who }) => `${who} is here` });
    const database = folders.databasePath();
    const keel = createKeel({ database, model });
    const result = await keel.run(defineAgent({ name: 'finder', instructions: 'x', tools: [lookup] }), 'find them').result;
    await keel.close();
    expect(result.status).toBe('completed');
    return database;
  }

  async function verifyCommand(database: string) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runAuditVerify({ database, json: false, out: (line) => out.push(line), err: (line) => err.push(line) });
    return { code, out, err };
  }

  it('matches every journaled tool result with an audit record', async () => {
    const database = await sessionWithToolCalls();
    const result = await verifyCommand(database);
    expect(result).toMatchObject({ code: 0, err: [] });
    expect(result.out[0]).toMatch(/audit log intact: 2 records; .*; 2 journaled tool results matched$/);
  });

  it('finds audit records removed with the chain re-hashed and the checkpoints gone', async () => {
    const database = await sessionWithToolCalls();
    const raw = new Database(database);
    raw.exec('DROP TRIGGER audit_records_append_only_delete; DELETE FROM audit_records WHERE seq = 2;');
    const first = raw.prepare('SELECT hash FROM audit_records WHERE seq = 1').pluck().get() as string;
    raw.prepare('UPDATE audit_head SET seq = 1, hash = ? WHERE id = 1').run(first);
    raw.close();
    rmSync(defaultCheckpointPath(database), { force: true });
    const result = await verifyCommand(database);
    expect(result.code).toBe(1);
    expect(result.err.join('\n')).toMatch(/holds the result of call toolu_2 \(lookup\) but the audit log has no record of it/);
  });
});
