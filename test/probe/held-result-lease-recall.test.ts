// Probe (session 10, held tool results): the session's lease is lost while the last result of a step is held, and a
// durable-execution journal (appendOrRecall, as Restate's) must never get a result held. SQLite file, a pipeline with
// SQLite idempotency records and audit log, as createKeel builds on a database.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, resumeSession, startSession } from '../../src/loop/index.ts';
import type { SessionUpdate } from '../../src/loop/index.ts';
import { createToolPipeline, defineTool } from '../../src/tools/index.ts';
import { createIdempotencyStage } from '../../src/tools/stages/idempotency.ts';
import { createAuditStage } from '../../src/tools/stages/audit.ts';
import { createMemoryIdempotencyStore, createMemoryJournal, createSqliteAuditLog, createSqliteIdempotencyStore, createSqliteStore, validateJournal } from '../../src/store/index.ts';
import { KeelError } from '../../src/errors/index.ts';
import type { BlobStore, Journal, SessionEvent } from '../../src/spec/index.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';
import { dependenciesFor, readAll } from '../helpers/loop-harness.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-probe-held-result-lease-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function countingAgent(runs: Map<string, number>) {
  const write = defineTool({
    name: 'write',
    description: 'writes',
    input: z.object({ value: z.string() }),
    execute: async ({ value }, context) => {
      runs.set(context.idempotencyKey, (runs.get(context.idempotencyKey) ?? 0) + 1);
      return `wrote ${value}`;
    },
  });
  return defineAgent({ name: 'writer', instructions: 'Write things.', tools: [write] });
}

const script = [{ content: [toolUse('c1', 'write', { value: 'a' })] }, { content: [text('Done.')] }];

function reported(updates: readonly SessionUpdate[]): SessionEvent[] {
  return updates.flatMap((update) => (update.type === 'event' ? [update.event] : []));
}

describe('held results: lease lost, durable-execution journals', () => {
  it('a lease lost while the result is held: nothing held is reported, the new owner answers from the record and runs the tool once', async () => {
    const path = join(scratch, 'lease.db');
    const store = createSqliteStore({ path });
    const audit = createSqliteAuditLog({ database: store.database });
    const pipeline = createToolPipeline({ executeStages: [createIdempotencyStage(createSqliteIdempotencyStore(store.database)), createAuditStage({ log: audit })] });
    const runs = new Map<string, number>();
    const leaseLost = new AbortController();
    // The next turn's request blob is stored while the result is held: the lease renewal fails right then.
    const blobs: BlobStore = new Proxy(store.blobs, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (property === 'put' && typeof value === 'function') {
          return (...args: unknown[]): unknown => {
            if (runs.size > 0) leaseLost.abort(new KeelError('session-busy', 'Another process took the lease (test).'));
            return (value as (...parameters: unknown[]) => unknown).apply(target, args);
          };
        }
        return typeof value === 'function' ? (value as (...parameters: unknown[]) => unknown).bind(target) : value;
      },
    });
    try {
      const updates: SessionUpdate[] = [];
      const first = dependenciesFor(scriptedCaller(script), { journal: store.journal, blobs, tools: pipeline });
      const failed = await startSession(countingAgent(runs), first, { input: 'write a', sessionId: 'ses_lease', leaseLost: leaseLost.signal, onUpdate: (update) => updates.push(update) }).result.catch((error: unknown) => error);
      expect(failed).toBeInstanceOf(KeelError);
      expect((failed as KeelError).code).toBe('session-busy');
      const before = await readAll(first, 'ses_lease');
      expect(reported(updates)).toEqual(before);
      expect(before.some((event) => event.type === 'tool-result')).toBe(false);

      const resumedUpdates: SessionUpdate[] = [];
      const second = dependenciesFor(scriptedCaller(script), { journal: store.journal, blobs: store.blobs, tools: pipeline });
      const result = await resumeSession(countingAgent(runs), second, 'ses_lease', { onUpdate: (update) => resumedUpdates.push(update) }).result;
      expect(result.status).toBe('completed');
      const events = await readAll(second, 'ses_lease');
      expect(validateJournal(events).problems).toEqual([]);
      expect([...reported(updates), ...reported(resumedUpdates)]).toEqual(events);
      expect([...runs.values()]).toEqual([1]);
      const rows = store.database.prepare('SELECT COUNT(*) AS n FROM audit_records WHERE session_id = ?').get('ses_lease') as { n: number };
      expect(rows.n).toBe(1);
    } finally {
      await audit.close();
      await store.close();
    }
  });

  it('a journal with appendOrRecall gets each recorded result in an append of its own, never carried by the next', async () => {
    const inner = createMemoryJournal();
    const batches: string[][] = [];
    const journal: Journal = {
      read: (id, from) => inner.read(id, from),
      lastSeq: (id) => inner.lastSeq(id),
      listSessions: (options) => inner.listSessions(options),
      close: () => inner.close(),
      append: async (id, events, expectedSeq) => {
        batches.push(events.map((event) => event.type));
        return inner.append(id, events, expectedSeq);
      },
      appendOrRecall: async (id, events, expectedSeq) => {
        batches.push(events.map((event) => event.type));
        await inner.append(id, events, expectedSeq);
        return events;
      },
    };
    const parallel = [{ content: [toolUse('c1', 'write', { value: 'a' }), toolUse('c2', 'write', { value: 'b' })] }, { content: [toolUse('c3', 'write', { value: 'c' })] }, { content: [text('Done.')] }];
    const dependencies = dependenciesFor(scriptedCaller(parallel), { journal, tools: createToolPipeline({ executeStages: [createIdempotencyStage({ ...createMemoryIdempotencyStore(), durable: true })] }) });
    const result = await startSession(countingAgent(new Map()), dependencies, { input: 'write', sessionId: 'ses_recall' }).result;
    expect(result.status).toBe('completed');
    const carrying = batches.filter((types) => types.includes('tool-result'));
    expect(carrying).toEqual([['tool-result'], ['tool-result'], ['tool-result']]);
    expect(validateJournal(await readAll(dependencies, 'ses_recall')).problems).toEqual([]);
  });
});
