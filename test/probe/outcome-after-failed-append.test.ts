import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteIdempotencyStore, createSqliteStore } from '../../src/store/index.ts';
import type { IdempotencyStore } from '../../src/store/index.ts';
import { outcomesOnDisk, shippingSession } from './outcome-probes.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-probe-outcome-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("a tool's recorded outcome when the append of its result fails (probe H5)", () => {
  it('is on disk, so that a resume (after a restart, or in this process) does not run the tool again', async () => {
    const path = join(scratch, 'full.db');
    const store = createSqliteStore({ path });
    const idempotency = createSqliteIdempotencyStore(store.database, path);
    let diskFull = false;
    // The disk fills up right after the outcome is recorded: the tool's result (a page or more of output) no longer fits.
    const filling: IdempotencyStore = {
      get: (key) => idempotency.get(key),
      put: async (key, outcome) => {
        await idempotency.put(key, outcome);
        if (diskFull) return;
        diskFull = true;
        const pages = store.database.pragma('page_count', { simple: true }) as number;
        store.database.pragma(`max_page_count = ${pages}`);
      },
    };
    const session = shippingSession(store, filling, { sessionId: 'ses_full', order: 1, output: `: ${'manifest line\n'.repeat(1_000)}` });
    try {
      // The run fails with the storage failure (rejected, or a failed result: either way, not completed).
      expect(await session.start()).not.toBe('completed');
      expect(session.shipped).toEqual([1]);
      // The tool ran and its outcome was recorded; the result's append failed: the record is what stops a re-run.
      expect(outcomesOnDisk(path)).toBe(1);
      store.database.pragma('max_page_count = 1073741823');
      expect(await session.resume()).toBe('completed');
      expect(session.shipped).toEqual([1]);
    } finally {
      await store.close();
    }
  });
});
