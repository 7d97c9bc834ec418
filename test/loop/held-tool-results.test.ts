import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, resumeSession, startSession } from '../../src/loop/index.ts';
import { createToolPipeline, defineTool } from '../../src/tools/index.ts';
import { createIdempotencyStage } from '../../src/tools/stages/idempotency.ts';
import { createMemoryIdempotencyStore, createMemoryJournal, validateJournal } from '../../src/store/index.ts';
import { KeelError } from '../../src/errors/index.ts';
import type { SessionEvent } from '../../src/spec/index.ts';
import type { IdempotencyStore } from '../../src/store/index.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';
import { dependenciesFor, readAll } from '../helpers/loop-harness.ts';
import { journalFailingOnce } from '../helpers/failing-journal.ts';

// A tool's result whose outcome the idempotency stage has recorded is held by the session writer and written with the
// next append (one commit fewer per tool turn); without a record it is written alone, as every result used to be.

function agentWith(executions: Map<string, number>, delays: Record<string, number> = {}) {
  const write = defineTool({
    name: 'write',
    description: 'writes',
    input: z.object({ value: z.string() }),
    execute: async ({ value }, context) => {
      executions.set(context.idempotencyKey, (executions.get(context.idempotencyKey) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, delays[value] ?? 0));
      return `wrote ${value}`;
    },
  });
  return defineAgent({ name: 'writer', instructions: 'Write things.', tools: [write] });
}

/** A memory journal that keeps each append's event types, and refuses once the append whose types match `failWhen`. */
function recordingJournal(failWhen?: (types: readonly string[]) => boolean) {
  return journalFailingOnce(createMemoryJournal(), (_id, events) => failWhen?.(events.map((event) => event.type)) === true);
}

/** A store that says its records outlive the process, as the SQLite and PostgreSQL ones do. */
function durableStore(): IdempotencyStore {
  return { ...createMemoryIdempotencyStore(), durable: true };
}

function recordingPipeline(store: IdempotencyStore) {
  return createToolPipeline({ executeStages: [createIdempotencyStage(store)] });
}

const oneCall = [{ content: [toolUse('c1', 'write', { value: 'a' })] }, { content: [text('Done.')] }];

const payer = defineAgent({
  name: 'payer',
  instructions: 'Pay.',
  tools: [defineTool({ name: 'pay', description: 'pays', input: z.object({}), critical: true, execute: () => { throw new Error('card declined'); } })],
});

describe('anomaly signals of a held outcome whose carrying append fails', () => {
  it('reports nothing the journal lacks, and the resume journals the outcome and its signal once', async () => {
    const store = durableStore();
    const journal = recordingJournal((types) => types.includes('tool-error'));
    const anomalies = { minToolCallsForErrorRate: 1, maxToolErrorRate: 0.5 };
    const script = [{ content: [toolUse('c1', 'pay', {})] }, { content: [text('unreachable')] }];
    const reported: SessionEvent[] = [];
    const first = dependenciesFor(scriptedCaller(script), { journal, anomalies, tools: recordingPipeline(store) });
    const onUpdate = (update: { type: string; event?: SessionEvent }): void => void (update.type === 'event' && update.event !== undefined && reported.push(update.event));
    const failed = await startSession(payer, first, { input: 'pay', sessionId: 'ses_anomaly_lost', onUpdate }).result.catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(KeelError);
    expect(reported).toEqual(await readAll(first, 'ses_anomaly_lost'));

    const resumed = dependenciesFor(scriptedCaller(script), { journal, anomalies, tools: recordingPipeline(store) });
    expect((await resumeSession(payer, resumed, 'ses_anomaly_lost').result).status).toBe('failed');
    const events = await readAll(resumed, 'ses_anomaly_lost');
    expect(validateJournal(events).problems).toEqual([]);
    expect(events.filter((event) => event.type === 'tool-error')).toHaveLength(1);
    expect(events.flatMap((event) => (event.type === 'anomaly' ? [event.signal] : []))).toEqual(['tool-error-rate']);
  });
});

describe('tool results held until the next append', () => {
  it('writes a recorded result in the same append as the next turn\'s model request', async () => {
    const journal = recordingJournal();
    const dependencies = dependenciesFor(scriptedCaller(oneCall), { journal, tools: recordingPipeline(durableStore()) });
    const result = await startSession(agentWith(new Map()), dependencies, { input: 'write a', sessionId: 'ses_held' }).result;
    expect(result.status).toBe('completed');
    const carriers = journal.batches.filter((types) => types.includes('tool-result'));
    expect(carriers).toHaveLength(1);
    expect(carriers[0]?.[0]).toBe('tool-result');
    expect(carriers[0]).toContain('model-request');
    expect(validateJournal(await readAll(dependencies, 'ses_held')).problems).toEqual([]);
  });

  it('writes a result alone when no idempotency record has it', async () => {
    const journal = recordingJournal();
    const dependencies = dependenciesFor(scriptedCaller(oneCall), { journal, tools: createToolPipeline({}) });
    await startSession(agentWith(new Map()), dependencies, { input: 'write a', sessionId: 'ses_unrecorded' }).result;
    expect(journal.batches).toContainEqual(['tool-result']);
  });

  it('writes a result alone when its record is in memory, lost with the process while the journal is not', async () => {
    const journal = recordingJournal();
    const dependencies = dependenciesFor(scriptedCaller(oneCall), { journal, tools: recordingPipeline(createMemoryIdempotencyStore()) });
    await startSession(agentWith(new Map()), dependencies, { input: 'write a', sessionId: 'ses_memory_record' }).result;
    expect(journal.batches).toContainEqual(['tool-result']);
  });

  it('writes the first of two parallel results alone and holds only the last to finish', async () => {
    const journal = recordingJournal();
    const script = [{ content: [toolUse('c1', 'write', { value: 'fast' }), toolUse('c2', 'write', { value: 'slow' })] }, { content: [text('Done.')] }];
    const dependencies = dependenciesFor(scriptedCaller(script), { journal, tools: recordingPipeline(durableStore()) });
    await startSession(agentWith(new Map(), { slow: 50 }), dependencies, { input: 'write two', sessionId: 'ses_parallel' }).result;
    const withResults = journal.batches.filter((types) => types.includes('tool-result'));
    expect(withResults).toHaveLength(2);
    expect(withResults[0]).toEqual(['tool-result']);
    expect(withResults[1]).toContain('model-request');
    const events = await readAll(dependencies, 'ses_parallel');
    expect(events.filter((event) => event.type === 'tool-result').map((event) => (event.type === 'tool-result' ? event.callId : ''))).toEqual(['c1', 'c2']);
  });

  it('loses no effect when the append carrying a held result fails: the resume answers from the record, the tool runs once', async () => {
    const store = durableStore();
    const executions = new Map<string, number>();
    const journal = recordingJournal((types) => types.includes('tool-result'));
    const first = dependenciesFor(scriptedCaller(oneCall), { journal, tools: recordingPipeline(store) });
    const failed = await startSession(agentWith(executions), first, { input: 'write a', sessionId: 'ses_lost' }).result.catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(KeelError);
    const before = await readAll(first, 'ses_lost');
    expect(before.some((event) => event.type === 'tool-result')).toBe(false);

    const resumed = dependenciesFor(scriptedCaller(oneCall), { journal, tools: recordingPipeline(store) });
    const result = await resumeSession(agentWith(executions), resumed, 'ses_lost').result;
    expect(result.status).toBe('completed');
    const events = await readAll(resumed, 'ses_lost');
    expect(validateJournal(events).problems).toEqual([]);
    expect(events.slice(0, before.length)).toEqual(before);
    const results = events.filter((event) => event.type === 'tool-result');
    expect(results.map((event) => (event.type === 'tool-result' ? event.output : ''))).toEqual(['wrote a']);
    expect([...executions.values()]).toEqual([1]);
  });
});
