import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteIdempotencyStore, createSqliteStore } from '../../src/store/index.ts';
import type { IdempotencyStore } from '../../src/store/index.ts';
import { sampleSession } from '../../src/testing/contracts/journal-samples.ts';
import { failingCommitWriter, shippingSession } from './outcome-probes.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-probe-failed-commit-resume-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('a session resumed in the same process after the commit carrying its tool result failed (probe H5)', () => {
  it('does not run the tool again: its recorded outcome answers the call', async () => {
    const path = join(scratch, 'resume.db');
    const store = createSqliteStore({ path });
    const idempotency = createSqliteIdempotencyStore(store.database, path);
    const queueFailingWrite = failingCommitWriter(store);
    let failed = false;
    const sharing: IdempotencyStore = {
      get: (key) => idempotency.get(key),
      put: async (key, outcome) => {
        if (failed) return idempotency.put(key, outcome);
        failed = true;
        await idempotency.put(key, outcome);
        // In the same turn of the event loop another session appends, and a third writer's failing write joins the
        // commit that will carry this call's result.
        void store.journal.append('ses_other', sampleSession('ses_other').slice(0, 1), 0).catch(() => undefined);
        void queueFailingWrite().catch(() => undefined);
      },
    };
    const session = shippingSession(store, sharing, { sessionId: 'ses_ship', order: 7, output: '' });
    try {
      expect(await session.start()).not.toBe('completed');
      expect(session.shipped).toEqual([7]);
      expect(await session.resume()).toBe('completed');
      expect(session.shipped).toEqual([7]);
    } finally {
      await store.close().catch(() => undefined);
    }
  });
});
