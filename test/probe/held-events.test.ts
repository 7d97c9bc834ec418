import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defineAgent, startSession } from '../../src/loop/index.ts';
import type { LoopDependencies, ModelCaller, SessionUpdate } from '../../src/loop/index.ts';
import { TreeBudget } from '../../src/loop/tree-budget.ts';
import { createSqliteStore } from '../../src/store/index.ts';
import type { SessionEvent } from '../../src/spec/index.ts';
import { scriptedCaller, text } from '../helpers/scripted-caller.ts';
import { dependenciesFor, readAll } from '../helpers/loop-harness.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-probe-held-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const agent = defineAgent({ name: 'writer', instructions: 'Write.', tools: [] });

/** Reads the session's journal through a second connection to the file, as `keel trace`, the console or another process would. */
async function journalFromOutside(path: string, sessionId: string): Promise<SessionEvent[]> {
  const reader = createSqliteStore({ path });
  try {
    const events: SessionEvent[] = [];
    for await (const event of reader.journal.read(sessionId)) events.push(event);
    return events;
  } finally {
    await reader.close();
  }
}

function sqliteDependencies(path: string, model: ModelCaller, overrides: Partial<LoopDependencies> = {}) {
  const store = createSqliteStore({ path });
  return { store, dependencies: dependenciesFor(model, { journal: store.journal, blobs: store.blobs, ...overrides }) };
}

describe('events the session writer holds (probe A, session 7)', () => {
  it('shows the model request in the journal while a slow model call is in flight', async () => {
    const path = join(scratch, 'slow.db');
    const { store, dependencies } = sqliteDependencies(path, scriptedCaller([{ content: [text('Done.')], delayMs: 1_500 }]));
    try {
      const session = startSession(agent, dependencies, { input: 'write', sessionId: 'ses_slow' });
      await new Promise((resolve) => setTimeout(resolve, 700));
      const during = await journalFromOutside(path, 'ses_slow');
      expect(during.map((event) => event.type)).toContain('model-request');
      await session.result;
    } finally {
      await store.close();
    }
  });

  it('journals a completed (paid) model call before the next model call of a pause_turn continuation starts', async () => {
    const path = join(scratch, 'pause.db');
    const model = scriptedCaller((_request, index) => (index < 2 ? { content: [text(`part ${index + 1}`)], stopReason: 'pause_turn', delayMs: index === 1 ? 1_500 : 0 } : { content: [text('Done.')] }));
    const { store, dependencies } = sqliteDependencies(path, model);
    try {
      const session = startSession(agent, dependencies, { input: 'write', sessionId: 'ses_pause' });
      await new Promise((resolve) => setTimeout(resolve, 700));
      expect(model.requests).toHaveLength(2);
      const during = await journalFromOutside(path, 'ses_pause');
      // The first call's response was paid for and folded into the session's state; a crash now re-buys it.
      expect(during.filter((event) => event.type === 'model-response')).toHaveLength(1);
      await session.result;
    } finally {
      await store.close();
    }
  });

  it('charges each model call of a pause_turn continuation to the tree budget before the next turn starts', async () => {
    const path = join(scratch, 'budget.db');
    // Each call spends 110 tokens; the tree's budget is 300, so the third call's response trips it.
    const model = scriptedCaller((_request, index) => (index < 8 ? { content: [text(`part ${index + 1}`)], stopReason: 'pause_turn' } : { content: [text('Done.')] }));
    const { store, dependencies } = sqliteDependencies(path, model);
    try {
      const treeBudget = TreeBudget.root('ses_root', { tokens: 300, costUsd: null });
      const session = startSession(agent, dependencies, { input: 'write', sessionId: 'ses_budget', treeBudget });
      await session.result;
      const events = await readAll(dependencies, 'ses_budget');
      expect(events.some((event) => event.type === 'guard-trip')).toBe(true);
      expect(model.requests.length).toBeLessThanOrEqual(3);
    } finally {
      await store.close();
    }
  });

  it('reports a turn\u2019s turn-start and model-request before the streamed parts of that turn\u2019s model call', async () => {
    const path = join(scratch, 'parts.db');
    const base = scriptedCaller([{ content: [text('Done.')] }]);
    const streaming: ModelCaller = {
      provider: base.provider,
      modelId: base.modelId,
      call: (request, options) => {
        options.onPart?.({ type: 'text-delta', text: 'Done.' } as never);
        return base.call(request, options);
      },
    };
    const { store, dependencies } = sqliteDependencies(path, streaming);
    try {
      const updates: SessionUpdate[] = [];
      const session = startSession(agent, dependencies, { input: 'write', sessionId: 'ses_parts', includeModelParts: true, onUpdate: (update) => updates.push(update) });
      await session.result;
      const order = updates.map((update) => (update.type === 'event' ? update.event.type : 'model-part'));
      const firstPart = order.indexOf('model-part');
      expect(firstPart).toBeGreaterThan(-1);
      expect(order.slice(0, firstPart)).toEqual(expect.arrayContaining(['turn-start', 'model-request']));
    } finally {
      await store.close();
    }
  });
});
