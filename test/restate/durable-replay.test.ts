import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, startSession } from '../../src/loop/index.ts';
import type { LoopDependencies } from '../../src/loop/index.ts';
import { createMemoryBlobStore, createMemoryJournal } from '../../src/store/index.ts';
import type { SessionEvent } from '../../src/spec/events.ts';
import type { Journal } from '../../src/spec/journal.ts';
import { createToolPipeline, defineTool } from '../../src/tools/index.ts';
import { isKeelError } from '../../src/errors/index.ts';
import { DurableSteps } from '../../src/restate/durable-steps.ts';
import type { StepContext } from '../../src/restate/durable-steps.ts';
import { durableDependencies } from '../../src/restate/durable-dependencies.ts';
import { RecallingJournal } from '../../src/restate/recalling-journal.ts';
import { StepClock } from '../../src/restate/step-clock.ts';
import { scriptedCaller } from '../helpers/scripted-caller.ts';

/**
 * A test double of Restate's journal of `ctx.run` results: an attempt replays the recorded steps by position (checking
 * their names, as Restate does) and records the ones past them, running a step's action when it is awaited, as the
 * SDK does; `crashAfter` makes a step's action run and then the attempt die before its result is recorded.
 */
class RecordedSteps {
  readonly recorded: { name: string; value: unknown }[] = [];

  attempt(crashAfter?: string): StepContext {
    let position = 0;
    return {
      run: <T>(name: string, action: () => Promise<T>): PromiseLike<T> => {
        const index = position;
        position += 1;
        let settled: Promise<T> | undefined;
        const settle = async (): Promise<T> => {
          const entry = this.recorded[index];
          if (entry !== undefined) {
            if (entry.name !== name) throw new Error(`journal mismatch at ${index}: recorded ${entry.name}, replayed ${name}`);
            return structuredClone(entry.value) as T;
          }
          const value = await action();
          if (name === crashAfter) throw new Error('the process died');
          this.recorded[index] = { name, value: structuredClone(value) };
          return value;
        };
        return { then: (onValue, onFailure) => (settled ??= settle()).then(onValue, onFailure) };
      },
    };
  }
}

async function readAll(journal: Journal, sessionId: string): Promise<SessionEvent[]> {
  const events: SessionEvent[] = [];
  for await (const event of journal.read(sessionId)) events.push(event);
  return events;
}

function billing() {
  const executions: string[] = [];
  const charge = defineTool({
    name: 'charge',
    description: 'Charges a customer.',
    input: z.object({ customer: z.string() }),
    risk: 'write',
    execute: async ({ customer }) => {
      await new Promise((resolve) => setTimeout(resolve, customer === 'bob' ? 30 : 1));
      executions.push(customer);
      return `charged ${customer}`;
    },
  });
  const agent = defineAgent({ name: 'biller', instructions: 'Charge the customers.', tools: [charge] });
  return { agent, executions };
}

const script = [
  { content: [{ type: 'tool_use' as const, id: 'toolu_1', name: 'charge', input: { customer: 'bob' } }, { type: 'tool_use' as const, id: 'toolu_2', name: 'charge', input: { customer: 'ada' } }] },
  { content: [{ type: 'text' as const, text: 'Charged bob and ada.' }] },
];

describe('a Restate replay through the durable dependencies', () => {
  it('recalls what the crashed attempt stored, runs again only the step in flight, and leaves the journal whole', async () => {
    const journal = createMemoryJournal();
    const blobs = createMemoryBlobStore();
    const model = scriptedCaller(script);
    const { agent, executions } = billing();
    const steps = new RecordedSteps();
    const attempt = async (crashAfter?: string, startedAt = 1_000) => {
      const clock = new StepClock(startedAt);
      const recalling = await RecallingJournal.open({ journal, sessionId: 'ses_replay', horizon: 0 });
      const base: LoopDependencies = { journal, blobs, model, clock, price: () => 0, tools: createToolPipeline({}) };
      const dependencies = durableDependencies({ base, steps: new DurableSteps(steps.attempt(crashAfter), clock), journal: recalling, clock });
      return startSession(agent, dependencies, { sessionId: 'ses_replay', input: 'Charge bob and ada.' }).result;
    };

    // The process dies after ada's charge ran, before Restate recorded it; bob's was recorded and journaled.
    await expect(attempt('tool toolu_2')).rejects.toThrow();
    const crashed = await readAll(journal, 'ses_replay');
    expect(crashed.filter((event) => event.type === 'tool-result').map((event) => (event as { callId: string }).callId)).toEqual(['toolu_1']);

    // The replay reads a later wall clock: recalled events keep their stored times and fence boundary all the same.
    const result = await attempt(undefined, 99_000);
    expect(result).toMatchObject({ status: 'completed', output: 'Charged bob and ada.' });
    const events = await readAll(journal, 'ses_replay');
    expect(events.slice(0, crashed.length)).toEqual(crashed);
    expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
    expect(events.filter((event) => event.type === 'tool-result').map((event) => (event as { callId: string }).callId)).toEqual(['toolu_1', 'toolu_2']);
    // Bob's charge was recorded and not run again; ada's, in flight at the crash, ran again.
    expect(executions).toEqual(['bob', 'ada', 'ada']);
    expect(model.requests).toHaveLength(2);
    // The replay continued with the stored session-start (its random fence boundary), not the one it generated.
    const start = events[0];
    expect(start?.type === 'session-start' ? start.contextBoundary : undefined).toBeTruthy();
    expect(JSON.stringify(model.requests[1])).toContain(start?.type === 'session-start' ? start.contextBoundary : 'no boundary');

    // A third attempt (Restate retrying a finished replay) recalls everything and calls nothing.
    const again = await attempt(undefined, 500_000);
    expect(again).toEqual(result);
    expect(await readAll(journal, 'ses_replay')).toEqual(events);
    expect(executions).toHaveLength(3);
    expect(model.requests).toHaveLength(2);
  });

  it('refuses to recall an event that records another step: another process wrote to the session', async () => {
    const journal = createMemoryJournal();
    const stored: SessionEvent = { v: 1, sessionId: 'ses_other', seq: 1, at: 1, type: 'turn-start', turn: 1 } as SessionEvent;
    await journal.append('ses_other', [stored], 0);
    const recalling = await RecallingJournal.open({ journal, sessionId: 'ses_other', horizon: 0 });
    const replayed = { ...stored, type: 'anomaly', turn: 1 } as unknown as SessionEvent;
    const failure = await recalling.appendOrRecall('ses_other', [replayed], 0).catch((error: unknown) => error);
    expect(isKeelError(failure, 'journal-conflict')).toBe(true);
    expect(isKeelError(failure) && failure.retryable).toBe(false);
  });

  it('reads a session only as far as the attempt has reached, so a resume inside a replay folds the same state', async () => {
    const journal = createMemoryJournal();
    const events = [1, 2, 3].map((seq) => ({ v: 1, sessionId: 'ses_read', seq, at: seq, type: 'turn-start', turn: seq }) as SessionEvent);
    await journal.append('ses_read', events, 0);
    const recalling = await RecallingJournal.open({ journal, sessionId: 'ses_read', horizon: 1 });
    expect((await readAll(recalling, 'ses_read')).map((event) => event.seq)).toEqual([1]);
    expect(await recalling.lastSeq('ses_read')).toBe(1);
    expect(await recalling.appendOrRecall('ses_read', [{ ...events[1]!, at: 50 }], 1)).toEqual([events[1]]);
    expect(recalling.wasRecalled(events[1]!)).toBe(true);
    expect((await readAll(recalling, 'ses_read')).map((event) => event.seq)).toEqual([1, 2]);
  });
});
