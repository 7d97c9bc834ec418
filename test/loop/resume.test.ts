import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, resumeSession, startSession } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { createMemoryJournal, validateJournal } from '../../src/store/index.ts';
import type { SessionEvent } from '../../src/spec/index.ts';
import { isKeelError } from '../../src/errors/index.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';
import { dependenciesFor, readAll } from '../helpers/loop-harness.ts';

function makeAgent(executions: Map<string, number>) {
  const write = defineTool({
    name: 'write',
    description: 'writes',
    input: z.object({ value: z.string() }),
    execute: ({ value }, context) => {
      executions.set(context.idempotencyKey, (executions.get(context.idempotencyKey) ?? 0) + 1);
      return `wrote ${value}`;
    },
  });
  return defineAgent({ name: 'writer', instructions: 'Write things.', tools: [write] });
}

const script = [
  { content: [text('Writing two.'), toolUse('c1', 'write', { value: 'a' }), toolUse('c2', 'write', { value: 'b' })] },
  { content: [toolUse('c3', 'write', { value: 'c' })] },
  { content: [text('All written.')] },
];

describe('resume from a journal cut at any event', () => {
  it('completes from every prefix, never re-running a call whose result was journaled', async () => {
    const reference = dependenciesFor(scriptedCaller(script));
    const run = startSession(makeAgent(new Map()), reference, { input: 'write a, b, c', sessionId: 'ses_ref' });
    expect((await run.result).status).toBe('completed');
    const full = await readAll(reference, 'ses_ref');

    for (let cut = 1; cut < full.length; cut += 1) {
      const prefix = full.slice(0, cut);
      const journal = createMemoryJournal();
      await journal.append('ses_ref', prefix, 0);
      const executions = new Map<string, number>();
      const dependencies = dependenciesFor(scriptedCaller(script), { journal });
      const resumed = resumeSession(makeAgent(executions), dependencies, 'ses_ref');
      const result = await resumed.result;
      expect(result.status, `cut at ${cut}`).toBe('completed');
      expect(result.output).toBe('All written.');
      const events = await readAll(dependencies, 'ses_ref');
      expect(validateJournal(events).problems, `cut at ${cut}`).toEqual([]);
      expect(events.slice(0, cut)).toEqual(prefix);
      const finished = new Set(prefix.flatMap((event: SessionEvent) => (event.type === 'tool-result' ? [event.callId] : [])));
      const requests = events.filter((event) => event.type === 'tool-request');
      expect(requests).toHaveLength(3);
      for (const request of requests) {
        if (request.type !== 'tool-request') continue;
        expect(executions.get(request.idempotencyKey) ?? 0, `cut at ${cut}, call ${request.callId}`).toBe(finished.has(request.callId) ? 0 : 1);
      }
      // The same idempotency keys as the uninterrupted run: keys do not depend on the process.
      expect(requests.map((event) => (event.type === 'tool-request' ? event.idempotencyKey : ''))).toEqual(
        full.flatMap((event) => (event.type === 'tool-request' ? [event.idempotencyKey] : [])),
      );
    }
  });

  it('resuming a finished session changes nothing and returns its result', async () => {
    const dependencies = dependenciesFor(scriptedCaller(script));
    const run = startSession(makeAgent(new Map()), dependencies, { input: 'go', sessionId: 'ses_done' });
    await run.result;
    const before = await readAll(dependencies, 'ses_done');
    const again = await resumeSession(makeAgent(new Map()), dependencies, 'ses_done').result;
    expect(again.status).toBe('completed');
    expect(await readAll(dependencies, 'ses_done')).toEqual(before);
  });

  it('a second writer on the same session fails with journal-conflict instead of forking the journal', async () => {
    const dependencies = dependenciesFor(scriptedCaller(script.map((turn) => ({ ...turn, delayMs: 20 }))));
    const first = startSession(makeAgent(new Map()), dependencies, { input: 'go', sessionId: 'ses_two' });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = resumeSession(makeAgent(new Map()), dependencies, 'ses_two');
    const outcomes = await Promise.allSettled([first.result, second.result]);
    const rejected = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(rejected).toHaveLength(1);
    expect(isKeelError((rejected[0] as PromiseRejectedResult).reason, 'journal-conflict')).toBe(true);
    expect(validateJournal(await readAll(dependencies, 'ses_two')).problems).toEqual([]);
  });

  it('an unknown session id is a clear session-not-found error', async () => {
    const dependencies = dependenciesFor(scriptedCaller(script));
    await expect(resumeSession(makeAgent(new Map()), dependencies, 'ses_missing').result).rejects.toMatchObject({ code: 'session-not-found' });
  });
});
