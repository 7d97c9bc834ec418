import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, resumeSession, startSession } from '../../src/loop/index.ts';
import { createSqliteIdempotencyStore, createSqliteStore } from '../../src/store/index.ts';
import type { IdempotencyStore } from '../../src/store/index.ts';
import { createToolPipeline, defineTool } from '../../src/tools/index.ts';
import { createIdempotencyStage } from '../../src/tools/stages/idempotency.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';
import { dependenciesFor } from '../helpers/loop-harness.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-probe-outcome-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Whether another process (or this one restarted after a crash) finds an outcome recorded on disk. */
function outcomesOnDisk(path: string): number {
  const raw = new Database(path, { readonly: true });
  try {
    return (raw.prepare('SELECT count(*) AS count FROM tool_outcomes').get() as { count: number }).count;
  } finally {
    raw.close();
  }
}

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
    const shipped: number[] = [];
    const tool = defineTool({
      name: 'ship',
      description: 'Ships an order',
      input: z.object({ order: z.number() }),
      risk: 'write',
      idempotent: true,
      execute: async ({ order }) => {
        shipped.push(order);
        return `shipped ${order}: ${'manifest line\n'.repeat(1_000)}`;
      },
    });
    const agent = defineAgent({ name: 'shipper', instructions: 'Ship.', tools: [tool] });
    const pipeline = createToolPipeline({ executeStages: [createIdempotencyStage(filling)] });
    const model = scriptedCaller([{ content: [toolUse('call_1', 'ship', { order: 1 })] }, { content: [text('Shipped.')] }]);
    const dependencies = dependenciesFor(model, { journal: store.journal, blobs: store.blobs, tools: pipeline });
    try {
      // The run fails with the storage failure (rejected, or a failed result: either way, not completed).
      const first = await startSession(agent, dependencies, { input: 'ship', sessionId: 'ses_full' }).result.then((result) => result.status, (error: unknown) => (error as { code?: string }).code);
      expect(first).not.toBe('completed');
      expect(shipped).toEqual([1]);
      // The tool ran and its outcome was recorded; the result's append failed: the record is what stops a re-run.
      expect(outcomesOnDisk(path)).toBe(1);
      store.database.pragma('max_page_count = 1073741823');
      const resumed = await resumeSession(agent, dependencies, 'ses_full').result;
      expect(resumed.status).toBe('completed');
      expect(shipped).toEqual([1]);
    } finally {
      await store.close();
    }
  });
});
