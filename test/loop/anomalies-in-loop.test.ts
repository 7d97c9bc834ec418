import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, resumeSession, startSession } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { createMemoryJournal, validateJournal } from '../../src/store/index.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';
import { dependenciesFor, readAll } from '../helpers/loop-harness.ts';

const flaky = defineTool({ name: 'flaky', description: 'x', input: z.object({ n: z.number() }), execute: ({ n }) => { if (n % 2 === 0) throw new Error('down'); return 'ok'; } });

const script = (_request: unknown, index: number) => (index < 6 ? { content: [toolUse(`c${index}`, 'flaky', { n: index })] } : { content: [text('giving up')] });

describe('anomaly signals in the loop', () => {
  it('journals each crossed threshold once and carries on', async () => {
    const dependencies = dependenciesFor(scriptedCaller(script), { anomalies: { maxTurns: 4, maxToolErrorRate: 0.4, minToolCallsForErrorRate: 4 } });
    const result = await startSession(defineAgent({ name: 'a', instructions: 'x', tools: [flaky] }), dependencies, { input: 'go', sessionId: 's' }).result;
    expect(result.status).toBe('completed');
    const events = await readAll(dependencies, 's');
    const anomalies = events.filter((event) => event.type === 'anomaly');
    expect(anomalies.map((event) => (event.type === 'anomaly' ? event.signal : '')).sort()).toEqual(['tool-error-rate', 'turn-count']);
    const turnCount = anomalies.find((event) => event.type === 'anomaly' && event.signal === 'turn-count');
    expect(turnCount).toMatchObject({ threshold: 4, value: 5 });
    expect(validateJournal(events).problems).toEqual([]);
  });

  it('a resumed session does not journal a signal twice', async () => {
    const reference = dependenciesFor(scriptedCaller(script), { anomalies: { maxTurns: 2 } });
    await startSession(defineAgent({ name: 'a', instructions: 'x', tools: [flaky] }), reference, { input: 'go', sessionId: 's' }).result;
    const full = await readAll(reference, 's');
    const cut = full.findIndex((event) => event.type === 'anomaly') + 2;
    const journal = createMemoryJournal();
    await journal.append('s', full.slice(0, cut), 0);
    const dependencies = dependenciesFor(scriptedCaller(script), { journal, anomalies: { maxTurns: 2 } });
    await resumeSession(defineAgent({ name: 'a', instructions: 'x', tools: [flaky] }), dependencies, 's').result;
    const events = await readAll(dependencies, 's');
    const signals = (list: typeof events) => list.flatMap((event) => (event.type === 'anomaly' ? [event.signal] : []));
    expect(signals(events)).toEqual(signals(full));
    expect(new Set(signals(events)).size).toBe(signals(events).length);
    expect(signals(events)).toContain('turn-count');
  });
});
