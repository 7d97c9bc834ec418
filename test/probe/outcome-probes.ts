// Shared by the probes of a tool's recorded outcome around a failed commit: what is on disk, a writer whose write
// fails the commit it shares, and a one-tool session that counts how often its tool really ran.
import Database from 'better-sqlite3';
import { z } from 'zod';
import { defineAgent, resumeSession, startSession } from '../../src/loop/index.ts';
import type { IdempotencyStore, SqliteStore } from '../../src/store/index.ts';
import { groupCommitOf } from '../../src/store/sqlite-group-commit.ts';
import { createToolPipeline, defineTool } from '../../src/tools/index.ts';
import { createIdempotencyStage } from '../../src/tools/stages/idempotency.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';
import { dependenciesFor } from '../helpers/loop-harness.ts';

/** How many outcomes another process (or this one restarted after a crash) finds recorded on disk. */
export function outcomesOnDisk(path: string): number {
  const raw = new Database(path, { readonly: true });
  try {
    return (raw.prepare('SELECT count(*) AS count FROM tool_outcomes').get() as { count: number }).count;
  } finally {
    raw.close();
  }
}

/**
 * Queues, on the store's group commit, a write that fails at COMMIT (a deferred foreign key, as the group-commit tests
 * simulate a failing commit): it fails the whole transaction it shares.
 */
export function failingCommitWriter(store: SqliteStore): () => Promise<unknown> {
  store.database.exec('CREATE TABLE parents (id INTEGER PRIMARY KEY); CREATE TABLE children (parent INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)');
  const insertOrphan = store.database.prepare('INSERT INTO children (parent) VALUES (7)');
  const group = groupCommitOf(store.database)!;
  return () => group.queued(() => insertOrphan.run(), 'orphans');
}

export interface ShippingSession {
  /** The orders the tool really shipped, in order. */
  readonly shipped: number[];
  /** Runs the session to its end: its status, or the code of the error it rejected with. */
  start(): Promise<string | undefined>;
  resume(): Promise<string>;
}

/** A session whose model asks once to ship `order` through a tool whose outcome `outcomes` records, then answers. */
export function shippingSession(store: SqliteStore, outcomes: IdempotencyStore, options: { readonly sessionId: string; readonly order: number; readonly output: string }): ShippingSession {
  const shipped: number[] = [];
  const tool = defineTool({
    name: 'ship',
    description: 'Ships an order',
    input: z.object({ order: z.number() }),
    risk: 'write',
    idempotent: true,
    execute: async ({ order }) => {
      shipped.push(order);
      return `shipped ${order}${options.output}`;
    },
  });
  const agent = defineAgent({ name: 'shipper', instructions: 'Ship.', tools: [tool] });
  const pipeline = createToolPipeline({ executeStages: [createIdempotencyStage(outcomes)] });
  const model = scriptedCaller([{ content: [toolUse('call_1', 'ship', { order: options.order })] }, { content: [text('Shipped.')] }]);
  const dependencies = dependenciesFor(model, { journal: store.journal, blobs: store.blobs, tools: pipeline });
  return {
    shipped,
    start: () => startSession(agent, dependencies, { input: 'ship', sessionId: options.sessionId }).result.then((result) => result.status, (error: unknown) => (error as { code?: string }).code),
    resume: async () => (await resumeSession(agent, dependencies, options.sessionId).result).status,
  };
}
