import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { KeelError } from '../../src/errors/index.ts';
import { defineAgent, startSession } from '../../src/loop/index.ts';
import type { SessionResult, SessionRun } from '../../src/loop/index.ts';
import { UpdateQueue, unclaimedUpdateLimit } from '../../src/loop/update-queue.ts';
import { defineTool } from '../../src/tools/index.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';
import { dependenciesFor } from '../helpers/loop-harness.ts';
import { gatedAddTool } from '../helpers/gated-add-tool.ts';

// A run that nobody iterates (the HTTP server and workers pass onUpdate and await `result`) must not keep every
// update of a long session: the serve benchmark's heap grew with each journaled event of every running session.
describe('UpdateQueue retention', () => {
  it('keeps at most the unclaimed limit for a run nobody iterates, then refuses a late iterator', () => {
    const queue = new UpdateQueue<number>();
    for (let index = 0; index < 10_000; index += 1) {
      queue.push(index);
      expect(queue.buffered).toBeLessThanOrEqual(unclaimedUpdateLimit);
    }
    expect(queue.buffered).toBe(0);
    expect(() => queue[Symbol.asyncIterator]()).toThrow(KeelError);
  });

  it('gives a consumer that iterates from the start every update, however many', async () => {
    const queue = new UpdateQueue<number>({ unclaimedLimit: 4 });
    const iterator = queue[Symbol.asyncIterator]();
    for (let index = 0; index < 1_000; index += 1) queue.push(index);
    queue.close();
    const seen: number[] = [];
    for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) seen.push(next.value);
    expect(seen).toEqual(Array.from({ length: 1_000 }, (_unused, index) => index));
  });

  it('keeps nothing once the consumer has left its loop', async () => {
    const queue = new UpdateQueue<number>();
    const iterator = queue[Symbol.asyncIterator]();
    queue.push(1);
    await iterator.return?.();
    for (let index = 0; index < 5_000; index += 1) queue.push(index);
    expect(queue.buffered).toBe(0);
  });
});

describe('a session run nobody iterates', () => {
  const add = defineTool({ name: 'add', description: 'Adds.', input: z.object({ a: z.number(), b: z.number() }), risk: 'read', execute: ({ a, b }) => String(a + b) });
  const turns = 120;
  const script = (): Parameters<typeof scriptedCaller>[0] => [...Array.from({ length: turns }, (_unused, index) => ({ content: [toolUse(`c${index}`, 'add', { a: index, b: 1 })] })), { content: [text('done')] }];
  const agent = defineAgent({ name: 'counter', instructions: 'Add.', tools: [add], limits: { maxTurns: turns + 5 } });

  it('drops its updates past the limit but still completes; the journal has every event', async () => {
    const dependencies = dependenciesFor(scriptedCaller(script()));
    const run = startSession(agent, dependencies, { input: 'go' });
    expect((await run.result).status).toBe('completed');
    const journaled: number[] = [];
    for await (const event of dependencies.journal.read(run.sessionId)) journaled.push(event.seq);
    expect(journaled.length).toBeGreaterThan(unclaimedUpdateLimit);
    expect(() => run[Symbol.asyncIterator]()).toThrow(/not kept/);
  });

  it('still streams every journaled event to a consumer that iterates at once', async () => {
    const dependencies = dependenciesFor(scriptedCaller(script()));
    const run = startSession(agent, dependencies, { input: 'go' });
    const seen: number[] = [];
    for await (const update of run) if (update.type === 'event') seen.push(update.event.seq);
    expect(seen.length).toBeGreaterThan(unclaimedUpdateLimit);
    expect(seen).toEqual(Array.from({ length: seen.length }, (_unused, index) => index + 1));
  });
});

describe('a session run its caller drops', () => {
  const turns = 6;
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;

  /**
   * Runs a session whose last tool call waits while the test collects garbage, keeping only weak references to the
   * updates reported so far; counts those still alive then (the session still running).
   */
  async function updatesAliveMidRun(keepRun: (run: SessionRun) => void): Promise<{ reported: number; alive: number; result: SessionResult }> {
    const { tool: add, reached, open: openGate } = gatedAddTool(turns - 1);
    const agent = defineAgent({ name: 'dropped', instructions: 'Add.', tools: [add], limits: { maxTurns: turns + 5 } });
    const script = [...Array.from({ length: turns }, (_unused, index) => ({ content: [toolUse(`c${index}`, 'add', { a: index, b: 1 })] })), { content: [text('done')] }];
    const reported: WeakRef<object>[] = [];
    // Started in a function of its own, so that this frame holds the result and not the run.
    const start = (): Promise<SessionResult> => {
      const run = startSession(agent, dependenciesFor(scriptedCaller(script)), { input: 'go', onUpdate: (update) => reported.push(new WeakRef(update)) });
      keepRun(run);
      return run.result;
    };
    const result = start();
    await reached;
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    const alive = reported.filter((reference) => reference.deref() !== undefined).length;
    const count = reported.length;
    openGate();
    return { reported: count, alive, result: await result };
  }

  it('keeps no update for an iterator nobody can start any more', async () => {
    const { reported, alive, result } = await updatesAliveMidRun(() => undefined);
    expect(result.status).toBe('completed');
    expect(reported).toBeGreaterThan(turns * 3);
    expect(alive).toBe(0);
  });

  it('still gives a late iterator that holds the run every update', async () => {
    let held: SessionRun | undefined;
    const { reported, alive, result } = await updatesAliveMidRun((run) => {
      held = run;
    });
    expect(result.status).toBe('completed');
    expect(alive).toBe(reported);
    const seen: number[] = [];
    for await (const update of held ?? []) if (update.type === 'event') seen.push(update.event.seq);
    expect(seen.length).toBeGreaterThan(reported);
    expect(seen).toEqual(Array.from({ length: seen.length }, (_unused, index) => index + 1));
  });
});
