// Probe (session 10, held tool results): a subagent call (child session) is the last call of its step, so its
// recorded result is held; the append that carries it fails (storage-failure). The resume must answer the call from
// its record / the journaled child-end: the child session is not run again, its tool runs once, and the parent's
// journal has one child-start, one child-end and one result for the call. createKeel on a SQLite file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createKeel } from '../../src/runtime/index.ts';
import { asTool, defineAgent } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { createScriptedModel } from '../../src/model/index.ts';
import { createSqliteAuditLog, createSqliteIdempotencyStore, createSqliteStore, validateJournal } from '../../src/store/index.ts';
import { KeelError } from '../../src/errors/index.ts';
import { journalFailingOnce } from '../helpers/failing-journal.ts';
import type { Model, SessionEvent } from '../../src/spec/index.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-probe-held-result-sub-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function counting(model: Model): Model & { calls: () => number } {
  let calls = 0;
  return {
    provider: model.provider,
    modelId: model.modelId,
    generate: (request, signal) => {
      calls += 1;
      return model.generate(request, signal);
    },
    stream: (request, signal) => {
      calls += 1;
      return model.stream(request, signal);
    },
    calls: () => calls,
  } as Model & { calls: () => number };
}

describe('a subagent call held as the last result of its step', () => {
  it('the append carrying it fails; the resume neither reruns the child nor its tool', async () => {
    const path = join(scratch, 'sub.db');
    const store = createSqliteStore({ path });
    let lookups = 0;
    const lookup = defineTool({ name: 'lookup', description: 'looks up', input: z.object({}), execute: async () => `found ${(lookups += 1)}` });
    const childModel = counting(createScriptedModel([{ role: 'assistant', content: [{ type: 'tool_use', id: 'k1', name: 'lookup', input: {} }] }, { role: 'assistant', content: [{ type: 'text', text: 'child answer' }] }]));
    const parentModel = createScriptedModel([{ role: 'assistant', content: [{ type: 'tool_use', id: 'p1', name: 'research', input: { task: 'find it' } }] }, { role: 'assistant', content: [{ type: 'text', text: 'Parent done.' }] }]);
    const child = defineAgent({ name: 'researcher', instructions: 'Find.', tools: [lookup], model: 'child' });
    const parent = defineAgent({ name: 'lead', instructions: 'Delegate.', tools: [asTool(child, { name: 'research', description: 'Researches.' })], model: 'parent' });
    const journal = journalFailingOnce(store.journal, (id, events) => id === 'ses_parent' && events.some((event) => event.type === 'tool-result' && event.callId === 'p1'));
    const audit = createSqliteAuditLog({ database: store.database });
    const keel = createKeel({ journal, blobs: store.blobs, idempotency: createSqliteIdempotencyStore(store.database), auditLog: audit, models: { parent: parentModel, child: childModel }, modelRetries: 0, modelLimits: false });
    try {
      const failed = await keel.run(parent, { task: 'go', sessionId: 'ses_parent' }).result.catch((error: unknown) => error);
      expect(failed).toBeInstanceOf(KeelError);
      expect(journal.refused).toBe(true);
      const childCalls = childModel.calls();
      const result = await (await keel.resume(parent, 'ses_parent')).result;
      expect(result.status).toBe('completed');
      expect(childModel.calls()).toBe(childCalls);
      expect(lookups).toBe(1);
      const events: SessionEvent[] = [];
      for await (const event of store.journal.read('ses_parent')) events.push(event);
      expect(validateJournal(events).problems).toEqual([]);
      expect(events.filter((event) => event.type === 'child-start')).toHaveLength(1);
      expect(events.filter((event) => event.type === 'child-end')).toHaveLength(1);
      expect(events.filter((event) => event.type === 'tool-result' && event.callId === 'p1')).toHaveLength(1);
    } finally {
      await keel.close();
      await audit.close();
      await store.close();
    }
  });
});
