import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkDatabase } from '../../src/store/check-database.ts';
import { createSqliteStore } from '../../src/store/index.ts';
import { groupCommitOf } from '../../src/store/sqlite-group-commit.ts';
import { readAll } from '../../src/testing/contracts/journal.contract.ts';
import { sampleSession, stampEvents, turnStartBody } from '../../src/testing/contracts/journal-samples.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-probe-known-head-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const turns = (sessionId: string, from: number, count: number) => stampEvents(sessionId, Array.from({ length: count }, (_, index) => turnStartBody(from + index)), from);

function settle<T>(promise: Promise<T>): Promise<{ ok: boolean; code?: string }> {
  return promise.then(
    () => ({ ok: true }),
    (error: unknown) => ({ ok: false, code: (error as { code?: string }).code }),
  );
}

describe('appends after the head a journal last wrote (ad96b22) (probe H5)', () => {
  it('detect a conflict and keep the chain whole when another connection appended in between', async () => {
    const path = join(scratch, 'two.db');
    const first = createSqliteStore({ path });
    const second = createSqliteStore({ path });
    try {
      await first.journal.append('ses_a', turns('ses_a', 1, 2), 0);
      await second.journal.append('ses_a', turns('ses_a', 3, 1), 2);
      // The first journal's known head (seq 2) is stale: its append there must conflict, not fork the chain.
      expect(await settle(first.journal.append('ses_a', turns('ses_a', 3, 1), 2))).toMatchObject({ ok: false });
      await first.journal.append('ses_a', turns('ses_a', 4, 2), 3);
      await second.journal.append('ses_a', turns('ses_a', 6, 1), 5);
      await first.journal.append('ses_a', turns('ses_a', 7, 1), 6);
      expect((await readAll(first.journal, 'ses_a')).map((event) => event.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    } finally {
      await first.close();
      await second.close();
    }
    const report = checkDatabase(path);
    expect(report.findings.filter((finding) => finding.severity === 'error')).toEqual([]);
  });

  it('write a session again correctly after the commit that carried its known head failed', async () => {
    const path = join(scratch, 'failed.db');
    const store = createSqliteStore({ path });
    store.database.exec('CREATE TABLE parents (id INTEGER PRIMARY KEY); CREATE TABLE children (parent INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)');
    const insertOrphan = store.database.prepare('INSERT INTO children (parent) VALUES (7)');
    const group = groupCommitOf(store.database)!;
    try {
      await store.journal.append('ses_a', sampleSession('ses_a').slice(0, 2), 0);
      await store.journal.append('ses_a', turns('ses_a', 3, 1), 2);
      // In a new turn of the event loop another session writes first (and commits at once); ses_a's append then shares
      // the turn's commit with a write that makes it fail.
      await new Promise((resolve) => setTimeout(resolve, 5));
      const [, failed] = await Promise.all([settle(store.journal.append('ses_z', sampleSession('ses_z').slice(0, 1), 0)), settle(store.journal.append('ses_a', turns('ses_a', 4, 2), 3)), settle(group.queued(() => insertOrphan.run(), 'orphans'))]);
      expect(failed.ok).toBe(false);
      // The head the journal wrote in the rolled-back transaction is not the row's: the next appends must read it.
      expect(await settle(store.journal.append('ses_a', turns('ses_a', 6, 1), 5))).toMatchObject({ ok: false });
      await store.journal.append('ses_a', turns('ses_a', 4, 2), 3);
      await store.journal.append('ses_a', turns('ses_a', 6, 1), 5);
      expect((await readAll(store.journal, 'ses_a')).map((event) => event.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    } finally {
      await store.close();
    }
    const report = checkDatabase(path);
    expect(report.findings.filter((finding) => finding.severity === 'error')).toEqual([]);
  });
});
