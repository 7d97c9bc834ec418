// Probe (session 10, found while testing held tool results; not caused by eac4b5b, both failed at ebd2eed too; fixed by the commit that adds this file): a caller
// that cancels with `controller.abort(new Error(...))` (any reason that is not a KeelError 'cancelled') makes the
// pipeline return the reason as an `internal` tool error (tool-pipeline.ts runTool: toKeelError(signal.reason)). The
// idempotency stage skips only code 'cancelled', so it RECORDS that error as the call's outcome; settleAfterCancel's
// replay of the late real result then gets the recorded error back. The tool applied its effect, the journal says it
// failed with 'internal', for good (a resume answers from the record too).
// Same root (the idempotency stage records any abort error but 'cancelled'): when one of two parallel calls cannot be
// recorded (its idempotency put fails: storage-failure), runTools aborts the sibling with that KeelError as reason; the
// sibling's tool completes anyway, but its outcome is recorded and journaled as the SIBLING's storage-failure.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createKeel } from '../../src/runtime/index.ts';
import { defineAgent, resumeSession, startSession } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { createScriptedModel } from '../../src/model/index.ts';
import { createMemoryIdempotencyStore, createMemoryJournal, createSqliteStore, validateJournal } from '../../src/store/index.ts';
import type { IdempotencyStore } from '../../src/store/index.ts';
import { createToolPipeline } from '../../src/tools/index.ts';
import { createIdempotencyStage } from '../../src/tools/stages/idempotency.ts';
import { KeelError } from '../../src/errors/index.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';
import { dependenciesFor, readAll } from '../helpers/loop-harness.ts';
import type { SessionEvent } from '../../src/spec/index.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-probe-held-result-abort-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('cancellation with an Error reason while a call runs', () => {
  it('journals the late real result of a call that completed within the grace period, not the abort reason', async () => {
    const path = join(scratch, 'abort-reason.db');
    let runs = 0;
    const slow = defineTool({
      name: 'slow',
      description: 'Finishes even when asked to stop.',
      input: z.object({}),
      execute: async () => {
        runs += 1;
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
      const run = keel.run(agent, { task: 'go', sessionId: 'ses_abort_reason', signal: controller.signal });
      setTimeout(() => controller.abort(new Error('caller stopped')), 50);
      expect((await run.result).status).toBe('cancelled');
      const reader = createSqliteStore({ path });
      const events: SessionEvent[] = [];
      try {
        for await (const event of reader.journal.read('ses_abort_reason')) events.push(event);
      } finally {
        await reader.close();
      }
      expect(validateJournal(events).problems).toEqual([]);
      expect(runs).toBe(1);
      const outcome = events.find((event) => (event.type === 'tool-result' || event.type === 'tool-error') && event.callId === 'c1');
      expect(outcome?.type === 'tool-result' ? outcome.output : outcome).toBe('done anyway');
    } finally {
      await keel.close();
    }
  });

  it('a call stopped because its sibling could not be recorded is not journaled with the sibling\'s storage-failure', async () => {
    const runs: string[] = [];
    const write = defineTool({
      name: 'write',
      description: 'writes',
      input: z.object({ value: z.string() }),
      execute: async ({ value }) => {
        runs.push(value);
        await new Promise((resolve) => setTimeout(resolve, value === 'slow' ? 100 : 1));
        return `did ${value}`;
      },
    });
    const agent = defineAgent({ name: 'writer', instructions: 'Write.', tools: [write] });
    const records = createMemoryIdempotencyStore();
    let failFast = true;
    const store: IdempotencyStore = {
      get: (key) => records.get(key),
      put: async (key, outcome) => {
        if (failFast && outcome.output === 'did fast') {
          failFast = false;
          throw new KeelError('storage-failure', 'The disk went away (test).');
        }
        return records.put(key, outcome);
      },
    };
    const journal = createMemoryJournal();
    const script = [{ content: [toolUse('c1', 'write', { value: 'slow' }), toolUse('c2', 'write', { value: 'fast' })] }, { content: [text('Done.')] }];
    const dependencies = () => dependenciesFor(scriptedCaller(script), { journal, tools: createToolPipeline({ executeStages: [createIdempotencyStage(store)] }) });
    const failed = await startSession(agent, dependencies(), { input: 'write', sessionId: 'ses_sibling' }).result.catch((error: unknown) => error);
    expect((failed as KeelError).code).toBe('storage-failure');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const result = await resumeSession(agent, dependencies(), 'ses_sibling').result;
    expect(result.status).toBe('completed');
    const events = await readAll(dependencies(), 'ses_sibling');
    expect(validateJournal(events).problems).toEqual([]);
    // The slow call ran to completion ('did slow'): its journaled outcome must not be c2's storage failure.
    const c1 = events.find((event) => (event.type === 'tool-result' || event.type === 'tool-error') && event.callId === 'c1');
    expect(c1?.type === 'tool-error' ? c1.error.code : c1?.type).not.toBe('storage-failure');
    expect(runs.filter((value) => value === 'slow')).toHaveLength(1);
  });
});
