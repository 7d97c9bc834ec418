import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, resumeSession, startSession } from '../../src/loop/index.ts';
import { createSqliteIdempotencyStore, createSqliteStore } from '../../src/store/index.ts';
import type { IdempotencyStore } from '../../src/store/index.ts';
import { groupCommitOf } from '../../src/store/sqlite-group-commit.ts';
import { sampleSession } from '../../src/testing/contracts/journal-samples.ts';
import { createToolPipeline, defineTool } from '../../src/tools/index.ts';
import { createIdempotencyStage } from '../../src/tools/stages/idempotency.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';
import { dependenciesFor } from '../helpers/loop-harness.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-probe-failed-commit-resume-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('a session resumed in the same process after the commit carrying its tool result failed (probe H5)', () => {
  it('does not run the tool again: its recorded outcome answers the call', async () => {
    const path = join(scratch, 'resume.db');
    const store = createSqliteStore({ path });
    const idempotency = createSqliteIdempotencyStore(store.database, path);
    // Another writer on the connection whose write fails at COMMIT (a deferred foreign key, as the group-commit tests
    // simulate a failing commit); it shares the commit of the tool result's append.
    store.database.exec('CREATE TABLE parents (id INTEGER PRIMARY KEY); CREATE TABLE children (parent INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)');
    const insertOrphan = store.database.prepare('INSERT INTO children (parent) VALUES (7)');
    const group = groupCommitOf(store.database)!;
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
        void group.queued(() => insertOrphan.run(), 'orphans').catch(() => undefined);
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
        return `shipped ${order}`;
      },
    });
    const agent = defineAgent({ name: 'shipper', instructions: 'Ship.', tools: [tool] });
    const pipeline = createToolPipeline({ executeStages: [createIdempotencyStage(sharing)] });
    const model = scriptedCaller([{ content: [toolUse('call_1', 'ship', { order: 7 })] }, { content: [text('Shipped.')] }]);
    const dependencies = dependenciesFor(model, { journal: store.journal, blobs: store.blobs, tools: pipeline });
    try {
      const first = await startSession(agent, dependencies, { input: 'ship', sessionId: 'ses_ship' }).result.then((result) => result.status, (error: unknown) => (error as { code?: string }).code);
      expect(first).not.toBe('completed');
      expect(shipped).toEqual([7]);
      const resumed = await resumeSession(agent, dependencies, 'ses_ship').result;
      expect(resumed.status).toBe('completed');
      expect(shipped).toEqual([7]);
    } finally {
      await store.close().catch(() => undefined);
    }
  });
});
