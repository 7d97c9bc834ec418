// Probe (session 10, held tool results): a recorded result held by the session writer when the step's last call
// settles after the caller's cancellation (settleAfterCancel), and when a step's allowed call runs while its sibling
// waits for a person's approval. With createKeel's full pipeline on a SQLite file: every event reported through
// onUpdate is in the journal (read from another connection) exactly once, in order; the journal is valid; no tool
// runs twice.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createKeel } from '../../src/runtime/index.ts';
import { defineAgent } from '../../src/loop/index.ts';
import type { SessionUpdate } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { createScriptedModel } from '../../src/model/index.ts';
import { createSqliteStore, validateJournal } from '../../src/store/index.ts';
import type { SessionEvent } from '../../src/spec/index.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-probe-held-result-ca-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

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

function reported(updates: readonly SessionUpdate[]): SessionEvent[] {
  return updates.flatMap((update) => (update.type === 'event' ? [update.event] : []));
}

function counter() {
  const runs = new Map<string, number>();
  return { runs, count: (key: string) => runs.set(key, (runs.get(key) ?? 0) + 1) };
}

describe('held results with cancellation and approvals (createKeel, SQLite)', () => {
  it('cancelled while the only call runs: the late result settles, is recorded, and is in the journal with the session end', async () => {
    const path = join(scratch, 'cancel.db');
    const { runs, count } = counter();
    const slow = defineTool({
      name: 'slow',
      description: 'Finishes even when asked to stop.',
      input: z.object({}),
      execute: async (_input, context) => {
        count(context.idempotencyKey);
        await new Promise((resolve) => setTimeout(resolve, 150));
        return 'done anyway';
      },
    });
    const agent = defineAgent({ name: 'canceller', instructions: 'Run slow.', tools: [slow], toolCalls: { cancelGraceMs: 2_000 } });
    const model = createScriptedModel([
      { role: 'assistant', content: [{ type: 'tool_use', id: 'c1', name: 'slow', input: {} }] },
      { role: 'assistant', content: [{ type: 'text', text: 'Done.' }] },
    ]);
    const keel = createKeel({ database: path, model, modelLimits: false });
    try {
      const controller = new AbortController();
      const updates: SessionUpdate[] = [];
      const run = keel.run(agent, { task: 'go', sessionId: 'ses_cancel', signal: controller.signal, onUpdate: (update) => updates.push(update) });
      setTimeout(() => controller.abort(), 50);
      const result = await run.result;
      expect(result.status).toBe('cancelled');
      const events = await journalFromOutside(path, 'ses_cancel');
      expect(validateJournal(events).problems).toEqual([]);
      const result1 = events.find((event) => event.type === 'tool-result');
      expect(result1?.type === 'tool-result' ? result1.output : null).toBe('done anyway');
      expect(events.at(-1)?.type).toBe('session-end');
      expect(reported(updates)).toEqual(events);
      expect([...runs.values()]).toEqual([1]);
    } finally {
      await keel.close();
    }
  });

  it('one call allowed, its sibling waits for approval: the allowed result is journaled before the run returns; approval then resume runs each tool once', async () => {
    const path = join(scratch, 'approval.db');
    const { runs, count } = counter();
    const tool = (name: string, requiresApproval: boolean) =>
      defineTool({
        name,
        description: name,
        input: z.object({}),
        ...(requiresApproval ? { risk: 'irreversible' as const } : {}),
        execute: async (_input, context) => {
          count(`${name} ${context.idempotencyKey}`);
          return `${name} done`;
        },
      });
    const agent = defineAgent({ name: 'approver', instructions: 'Run both.', tools: [tool('free', false), tool('gated', true)] });
    const script = [
      { role: 'assistant' as const, content: [{ type: 'tool_use' as const, id: 'c1', name: 'free', input: {} }, { type: 'tool_use' as const, id: 'c2', name: 'gated', input: {} }] },
      { role: 'assistant' as const, content: [{ type: 'text' as const, text: 'Both done.' }] },
    ];
    const keel = createKeel({ database: path, model: createScriptedModel(script), modelLimits: false });
    try {
      const updates: SessionUpdate[] = [];
      const first = await keel.run(agent, { task: 'go', sessionId: 'ses_approval', onUpdate: (update) => updates.push(update) }).result;
      expect(first.status).toBe('awaiting-approval');
      expect(first.pendingApprovals.map((pending) => pending.callId)).toEqual(['c2']);
      const during = await journalFromOutside(path, 'ses_approval');
      expect(during.filter((event) => event.type === 'tool-result').map((event) => (event.type === 'tool-result' ? event.callId : ''))).toEqual(['c1']);
      expect(reported(updates)).toEqual(during);
      expect(validateJournal(during).problems).toEqual([]);

      const resumedUpdates: SessionUpdate[] = [];
      const second = await (await keel.decide(agent, 'ses_approval', 'c2', { approved: true, approver: 'ops@example.com' }, { onUpdate: (update) => resumedUpdates.push(update) })).result;
      expect(second.status).toBe('completed');
      const events = await journalFromOutside(path, 'ses_approval');
      expect(validateJournal(events).problems).toEqual([]);
      expect(events.map((event) => event.seq)).toEqual(events.map((_event, index) => index + 1));
      const results = events.filter((event) => event.type === 'tool-result').map((event) => (event.type === 'tool-result' ? event.callId : ''));
      expect(results).toEqual(['c1', 'c2']);
      expect([...runs.values()]).toEqual([1, 1]);
      // What the resumed run reported is the journal's tail, each event once.
      const tail = reported(resumedUpdates);
      expect(tail.length).toBeGreaterThan(0);
      expect(events.slice(events.length - tail.length)).toEqual(tail);
    } finally {
      await keel.close();
    }
  });
});
