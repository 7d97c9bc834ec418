import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { createKeel, defineAgent } from '../../src/index.ts';
import type { Keel, SessionResult, SessionRun } from '../../src/index.ts';
import { createScriptedModel } from '../../src/model/index.ts';
import { gatedAddTool } from '../helpers/gated-add-tool.ts';

// keel.run wraps the session's run in the lease's (and admission's) own run: a caller that keeps only `result` must
// let the buffered updates go while the session still runs, as with the loop's run itself (test/loop/update-queue).
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const turns = 4;

function scripted() {
  const calls = Array.from({ length: turns }, (_unused, index) => ({
    role: 'assistant' as const,
    model: 'claude-sonnet-4-6',
    content: [{ type: 'tool_use' as const, id: `c${index}`, name: 'add', input: { a: index, b: 1 } }],
    usage: { input_tokens: 3, output_tokens: 2 },
  }));
  return createScriptedModel([...calls, { role: 'assistant', model: 'claude-sonnet-4-6', content: [{ type: 'text', text: 'done' }], usage: { input_tokens: 3, output_tokens: 2 } }]);
}

/** Runs a session through keel.run whose last tool call waits while the test collects garbage; counts the updates still alive then. */
async function updatesAliveMidRun(keel: Keel, keepRun: (run: SessionRun) => void): Promise<{ reported: number; alive: number; result: SessionResult }> {
  const { tool: add, reached, open: openGate } = gatedAddTool(turns - 1);
  const agent = defineAgent({ name: 'dropped-run', instructions: 'Add.', tools: [add], limits: { maxTurns: turns + 3 } });
  const reported: WeakRef<object>[] = [];
  // Started in a function of its own, so that this frame holds the result and not the run.
  const start = (): Promise<SessionResult> => {
    const run = keel.run(agent, { task: 'go', onUpdate: (update) => reported.push(new WeakRef(update)) });
    keepRun(run);
    return run.result;
  };
  // The metrics module loads in the background and keeps the updates observed before it is ready: wait for it.
  await keel.metrics();
  const result = start();
  await reached;
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  const alive = reported.filter((reference) => reference.deref() !== undefined).length;
  const count = reported.length;
  openGate();
  return { reported: count, alive, result: await result };
}

describe('a run keel.run returns', () => {
  it('keeps no update for an iterator once its caller dropped it', async () => {
    const keel = createKeel({ database: ':memory:', model: scripted(), env: {} });
    try {
      const { reported, alive, result } = await updatesAliveMidRun(keel, () => undefined);
      expect(result.status).toBe('completed');
      expect(reported).toBeGreaterThan(turns * 3);
      expect(alive).toBe(0);
    } finally {
      await keel.close();
    }
  });

  it('still gives every update to a late iterator that held it', async () => {
    const keel = createKeel({ database: ':memory:', model: scripted(), env: {} });
    try {
      let held: SessionRun | undefined;
      const { reported, alive, result } = await updatesAliveMidRun(keel, (run) => {
        held = run;
      });
      expect(result.status).toBe('completed');
      expect(alive).toBe(reported);
      const seen: number[] = [];
      for await (const update of held ?? []) if (update.type === 'event') seen.push(update.event.seq);
      expect(seen.length).toBeGreaterThan(reported);
      expect(seen).toEqual(Array.from({ length: seen.length }, (_unused, index) => index + 1));
    } finally {
      await keel.close();
    }
  });
});
