import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteIdempotencyStore, createSqliteStore } from '../../src/store/index.ts';
import { sampleSession } from '../../src/testing/contracts/journal-samples.ts';
import { failingCommitWriter, outcomesOnDisk } from './outcome-probes.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-probe-failed-commit-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function settle<T>(promise: Promise<T>): Promise<{ ok: boolean }> {
  return promise.then(
    () => ({ ok: true }),
    () => ({ ok: false }),
  );
}

const outcome = { ok: true, output: 'shipped order 7', error: null, fullOutputBlob: null, recordedAt: 1 };

describe("a tool's recorded outcome when the commit carrying its result fails for another writer's sake (probe H5)", () => {
  it('is on disk once the tool stage has returned: a crash after the failed append must not run the tool again', async () => {
    const path = join(scratch, 'shared.db');
    const store = createSqliteStore({ path });
    const outcomes = createSqliteIdempotencyStore(store.database, path);
    const queueFailingWrite = failingCommitWriter(store);
    try {
      // A third session writes first in this turn of the event loop (and commits at once).
      await store.journal.append('ses_z', sampleSession('ses_z').slice(0, 1), 0);
      // Session A's tool shipped the order; the idempotency stage recorded its outcome and returned.
      await outcomes.put('idem_ship_7', outcome);
      // A's result append shares its commit with the other writer's failing write.
      const [append] = await Promise.all([settle(store.journal.append('ses_a', sampleSession('ses_a'), 0)), settle(queueFailingWrite())]);
      expect(append.ok).toBe(false);
      // The session's run fails on its append; a crash or a restart now must still find the outcome, or the resumed
      // call ships the order again. At fe1dcbe the record had committed by itself before the stage returned.
      expect(outcomesOnDisk(path)).toBe(1);
    } finally {
      await store.close().catch(() => undefined);
    }
  });
});
