import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, resumeSession, startSession } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { createMemoryJournal, validateJournal } from '../../src/store/index.ts';
import type { SessionEvent } from '../../src/spec/index.ts';
import { scriptedCaller, toolUse, text } from '../helpers/scripted-caller.ts';
import { dependenciesFor, readAll } from '../helpers/loop-harness.ts';

/** A travel booking saga: reserve a flight, hold a hotel, book a car, then charge the card (step 4 of 4 never comes: step 3 fails). */
function makeAgent(log: string[], options: { failCar?: boolean } = {}) {
  const step = (name: string, fails = false) =>
    defineTool({
      name,
      description: name,
      input: z.object({ id: z.string() }),
      critical: true,
      execute: ({ id }, context) => {
        log.push(`do ${name} ${id} ${context.idempotencyKey.slice(0, 12)}`);
        if (fails) throw new Error(`${name} is sold out`);
        return `${name}-confirmation-${id}`;
      },
      compensate: ({ id }, output, context) => {
        log.push(`undo ${name} ${id} ${output} ${context.idempotencyKey.slice(0, 12)}`);
        return `cancelled ${output}`;
      },
    });
  const readOnly = defineTool({ name: 'lookup', description: 'lookup', input: z.object({}), risk: 'read', execute: () => 'nothing to undo' });
  return defineAgent({
    name: 'travel',
    instructions: 'Book the trip.',
    tools: [step('reserve_flight'), step('hold_hotel'), step('book_car', options.failCar ?? true), step('charge_card'), readOnly],
  });
}

const script = [
  { content: [toolUse('s1', 'reserve_flight', { id: 'f1' }), toolUse('r1', 'lookup', {})] },
  { content: [toolUse('s2', 'hold_hotel', { id: 'h1' })] },
  { content: [toolUse('s3', 'book_car', { id: 'c1' })] },
  { content: [toolUse('s4', 'charge_card', { id: 'card' })] },
  { content: [text('Booked.')] },
];

function compensationOrder(events: readonly SessionEvent[]): string[] {
  return events.flatMap((event) => (event.type === 'compensation-result' ? [`${event.tool}:${event.ok}`] : []));
}

describe('sagas', () => {
  it('a failure in step 3 of 4 undoes steps 2 and 1, newest first, each journaled, and fails the session', async () => {
    const log: string[] = [];
    const dependencies = dependenciesFor(scriptedCaller(script));
    const run = startSession(makeAgent(log), dependencies, { input: 'book', sessionId: 'ses_saga' });
    const result = await run.result;
    expect(result.status).toBe('failed');
    expect(result.error?.message).toContain('Critical tool "book_car" failed');
    expect(log.map((line) => line.split(' ').slice(0, 2).join(' '))).toEqual(['do reserve_flight', 'do hold_hotel', 'do book_car', 'undo hold_hotel', 'undo reserve_flight']);
    expect(log.find((line) => line.startsWith('undo hold_hotel'))).toContain('hold_hotel-confirmation-h1');
    const events = await readAll(dependencies, 'ses_saga');
    expect(validateJournal(events).problems).toEqual([]);
    expect(compensationOrder(events)).toEqual(['hold_hotel:true', 'reserve_flight:true']);
    const types = events.map((event) => event.type);
    expect(types.slice(-5)).toEqual(['compensation-request', 'compensation-result', 'compensation-request', 'compensation-result', 'session-end']);
  });

  it('a cancelled session compensates too, even though its signal is aborted', async () => {
    const log: string[] = [];
    const controller = new AbortController();
    const slowScript = script.map((turn, index) => (index === 1 ? { ...turn, delayMs: 5_000 } : turn));
    const dependencies = dependenciesFor(scriptedCaller(slowScript));
    const run = startSession(makeAgent(log, { failCar: false }), dependencies, { input: 'book', sessionId: 'ses_cancel', signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const result = await run.result;
    expect(result.status).toBe('cancelled');
    expect(compensationOrder(await readAll(dependencies, 'ses_cancel'))).toEqual(['reserve_flight:true']);
  });

  it('a crash in the middle of compensating resumes the saga: finished undos are not repeated, the rest run with the same keys', async () => {
    const reference = dependenciesFor(scriptedCaller(script));
    const referenceLog: string[] = [];
    await startSession(makeAgent(referenceLog), reference, { input: 'book', sessionId: 'ses_mid' }).result;
    const full = await readAll(reference, 'ses_mid');
    const firstResult = full.findIndex((event) => event.type === 'compensation-result');
    for (const cut of [firstResult - 1, firstResult, firstResult + 1, full.length - 1]) {
      const journal = createMemoryJournal();
      await journal.append('ses_mid', full.slice(0, cut + 1), 0);
      const log: string[] = [];
      const dependencies = dependenciesFor(scriptedCaller(script), { journal });
      const result = await resumeSession(makeAgent(log), dependencies, 'ses_mid').result;
      expect(result.status, `cut after ${cut + 1}`).toBe('failed');
      const events = await readAll(dependencies, 'ses_mid');
      expect(validateJournal(events).problems).toEqual([]);
      expect(compensationOrder(events)).toEqual(['hold_hotel:true', 'reserve_flight:true']);
      const undone = log.filter((line) => line.startsWith('undo'));
      const before = compensationOrder(full.slice(0, cut + 1)).length;
      expect(undone).toHaveLength(2 - before);
      for (const line of undone) expect(referenceLog).toContain(line);
    }
  });

  it('a compensation that fails is recorded and named in the session error', async () => {
    const log: string[] = [];
    const broken = defineTool({
      name: 'reserve_flight', description: 'x', input: z.object({ id: z.string() }), execute: () => 'ok',
      compensate: () => { throw new Error('airline API down'); },
    });
    const failing = defineTool({ name: 'book_car', description: 'x', input: z.object({ id: z.string() }), critical: true, execute: () => { log.push('car'); throw new Error('no cars'); } });
    const dependencies = dependenciesFor(scriptedCaller([{ content: [toolUse('a', 'reserve_flight', { id: '1' })] }, { content: [toolUse('b', 'book_car', { id: '2' })] }]));
    const result = await startSession(defineAgent({ name: 'x', instructions: 'x', tools: [broken, failing] }), dependencies, { input: 'go' }).result;
    expect(result.status).toBe('failed');
    expect(result.error?.message).toContain('1 compensation(s) failed: reserve_flight');
    expect(result.error?.message).toContain('airline API down');
  });
});
