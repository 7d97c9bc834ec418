// Probe (session 10, held tool results): three calls of one step run one at a time (toolCalls.concurrency 1); the
// last to finish fails (the tool throws), so its recorded tool-error is held; the append that carries it fails with
// a storage failure. SQLite journal and idempotency records: the resume answers the error from the record (the tool
// is not run again), the earlier results are kept as written, and the journal stays valid with contiguous seqs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, resumeSession, startSession } from '../../src/loop/index.ts';
import type { SessionUpdate } from '../../src/loop/index.ts';
import { createToolPipeline, defineTool } from '../../src/tools/index.ts';
import { createIdempotencyStage } from '../../src/tools/stages/idempotency.ts';
import { createSqliteIdempotencyStore, createSqliteStore, validateJournal } from '../../src/store/index.ts';
import type { KeelError } from '../../src/errors/index.ts';
import type { SessionEvent } from '../../src/spec/index.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';
import { dependenciesFor, readAll } from '../helpers/loop-harness.ts';
import { journalFailingOnce } from '../helpers/failing-journal.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-probe-held-result-par-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the last of three bounded calls fails and its held error cannot be written', () => {
  it('resumes with the recorded error, each tool run once, journal valid', async () => {
    const store = createSqliteStore({ path: join(scratch, 'parallel.db') });
    const runs: string[] = [];
    const write = defineTool({
      name: 'write',
      description: 'writes',
      input: z.object({ value: z.string() }),
      execute: async ({ value }) => {
        runs.push(value);
        if (value === 'c') throw new Error('quota exceeded for c');
        return `wrote ${value}`;
      },
    });
    const agent = defineAgent({ name: 'writer', instructions: 'Write.', tools: [write], toolCalls: { concurrency: 1 } });
    const script = [{ content: [toolUse('c1', 'write', { value: 'a' }), toolUse('c2', 'write', { value: 'b' }), toolUse('c3', 'write', { value: 'c' })] }, { content: [text('Done.')] }];
    const journal = journalFailingOnce(store.journal, (_id, events) => events.some((event) => event.type === 'tool-error' && event.callId === 'c3'));
    const pipeline = createToolPipeline({ executeStages: [createIdempotencyStage(createSqliteIdempotencyStore(store.database))] });
    try {
      const updates: SessionUpdate[] = [];
      const first = dependenciesFor(scriptedCaller(script), { journal, blobs: store.blobs, tools: pipeline });
      const failed = await startSession(agent, first, { input: 'write', sessionId: 'ses_par', onUpdate: (update) => updates.push(update) }).result.catch((error: unknown) => error);
      expect((failed as KeelError).code).toBe('storage-failure');
      const before = await readAll(first, 'ses_par');
      expect(before.filter((event) => event.type === 'tool-result').map((event) => (event.type === 'tool-result' ? event.callId : ''))).toEqual(['c1', 'c2']);
      expect(before.some((event) => event.type === 'tool-error')).toBe(false);

      const resumedUpdates: SessionUpdate[] = [];
      const second = dependenciesFor(scriptedCaller(script), { journal, blobs: store.blobs, tools: pipeline });
      const result = await resumeSession(agent, second, 'ses_par', { onUpdate: (update) => resumedUpdates.push(update) }).result;
      expect(result.status).toBe('completed');
      const events = await readAll(second, 'ses_par');
      expect(validateJournal(events).problems).toEqual([]);
      expect(events.map((event) => event.seq)).toEqual(events.map((_event, index) => index + 1));
      const reported = [...updates, ...resumedUpdates].flatMap((update): SessionEvent[] => (update.type === 'event' ? [update.event] : []));
      expect(reported).toEqual(events);
      const error = events.find((event) => event.type === 'tool-error');
      expect(error?.type === 'tool-error' ? [error.callId, error.error.message] : null).toEqual(['c3', 'Tool "write" failed: quota exceeded for c']);
      expect(runs).toEqual(['a', 'b', 'c']);
    } finally {
      await store.close();
    }
  });
});
