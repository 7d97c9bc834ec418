import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, startSession } from '../../src/loop/index.ts';
import type { SessionUpdate } from '../../src/loop/index.ts';
import { createSqliteAuditLog, createSqliteIdempotencyStore, createSqliteStore } from '../../src/store/index.ts';
import type { IdempotencyStore } from '../../src/store/index.ts';
import { createToolPipeline, defineTool } from '../../src/tools/index.ts';
import { createAuditStage } from '../../src/tools/stages/audit.ts';
import { createIdempotencyStage } from '../../src/tools/stages/idempotency.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';
import { dependenciesFor } from '../helpers/loop-harness.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-outcome-commit-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Counts the statements run on every better-sqlite3 connection of this process, by their text. */
function statementCounter(database: Database.Database): { count: (sql: string) => number; stop: () => void } {
  const prototype = Object.getPrototypeOf(database.prepare('SELECT 1')) as { run: (...args: unknown[]) => unknown };
  const original = prototype.run;
  const counts = new Map<string, number>();
  prototype.run = function run(this: { source: string }, ...args: unknown[]) {
    const key = this.source.trim().split(/\s+/).slice(0, 3).join(' ');
    counts.set(key, (counts.get(key) ?? 0) + 1);
    return original.apply(this, args);
  };
  return { count: (sql) => counts.get(sql) ?? 0, stop: () => (prototype.run = original) };
}

/** What another process, or this one restarted after a crash, finds on disk. */
function onDisk(path: string, key: string): { outcome: boolean; audit: number } {
  const raw = new Database(path, { readonly: true });
  try {
    const outcome = raw.prepare('SELECT 1 FROM tool_outcomes WHERE idempotency_key = ?').get(key) !== undefined;
    const audit = (raw.prepare('SELECT count(*) AS count FROM audit_records').get() as { count: number }).count;
    return { outcome, audit };
  } finally {
    raw.close();
  }
}

describe("a tool call's recorded outcome and its result", () => {
  it('are committed together: the result is reported only with the outcome on disk, in one commit after the record', async () => {
    const path = join(scratch, 'together.db');
    const store = createSqliteStore({ path });
    const idempotency = createSqliteIdempotencyStore(store.database, path);
    const audit = createSqliteAuditLog({ database: store.database });
    const tool = defineTool({ name: 'ship', description: 'Ships an order', input: z.object({ order: z.number() }), risk: 'write', idempotent: true, execute: async ({ order }) => `shipped ${order}` });
    const agent = defineAgent({ name: 'shipper', instructions: 'Ship.', tools: [tool] });
    const model = scriptedCaller([{ content: [toolUse('call_1', 'ship', { order: 1 })] }, { content: [toolUse('call_2', 'ship', { order: 2 })] }, { content: [text('Shipped.')] }]);
    const counter = statementCounter(store.database);
    const commitsAtRecord = new Map<string, number>();
    const recording: IdempotencyStore = {
      get: (key) => idempotency.get(key),
      put: (key, outcome) => {
        commitsAtRecord.set(key, counter.count('COMMIT'));
        return idempotency.put(key, outcome);
      },
    };
    const pipeline = createToolPipeline({ executeStages: [createIdempotencyStage(recording), createAuditStage({ log: audit })] });
    const seen: { key: string; outcomeOnDisk: boolean; auditOnDisk: number; commitsSinceRecord: number }[] = [];
    const onUpdate = (update: SessionUpdate): void => {
      if (update.type !== 'event' || update.event.type !== 'tool-result') return;
      const key = [...commitsAtRecord.keys()].at(-1)!;
      const disk = onDisk(path, key);
      seen.push({ key, outcomeOnDisk: disk.outcome, auditOnDisk: disk.audit, commitsSinceRecord: counter.count('COMMIT') - commitsAtRecord.get(key)! });
    };
    try {
      const dependencies = dependenciesFor(model, { journal: store.journal, blobs: store.blobs, tools: pipeline });
      const session = startSession(agent, dependencies, { input: 'ship both', onUpdate });
      const result = await session.result;
      expect(result.status).toBe('completed');
    } finally {
      counter.stop();
      await audit.close();
      await store.close();
    }
    expect(seen).toHaveLength(2);
    for (const [index, observed] of seen.entries()) {
      // On disk when reported, with the call's audit record; one commit, made after the record was written, carried
      // record and result together (a record committed on its own would make two).
      expect(observed).toMatchObject({ outcomeOnDisk: true, auditOnDisk: index + 1, commitsSinceRecord: 1 });
    }
  });
});
