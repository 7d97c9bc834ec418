import { describe, expect, it } from 'vitest';
import { createMemoryJournal } from '../../src/store/index.ts';
import { readAll } from '../../src/testing/contracts/journal.contract.ts';
import { sampleSession, stampEvents } from '../../src/testing/contracts/journal-samples.ts';

describe('memory journal', () => {
  it('hands out frozen events, so a reader cannot change history by accident', async () => {
    const journal = createMemoryJournal();
    await journal.append('ses_a', sampleSession('ses_a'), 0);
    const [start] = await readAll(journal, 'ses_a');
    expect(() => {
      (start as { input: string }).input = 'rewritten';
    }).toThrow(TypeError);
    expect(() => {
      (start as unknown as { agent: { tools: string[] } }).agent.tools.push('injected');
    }).toThrow(TypeError);
    const [summary] = await journal.listSessions();
    expect(() => {
      (summary as { lastSeq: number }).lastSeq = 99;
    }).toThrow(TypeError);
    expect(await journal.lastSeq('ses_a')).toBe(sampleSession('ses_a').length);
  });

  it('stores what SQLite would: values JSON cannot carry are dropped or converted', async () => {
    const journal = createMemoryJournal();
    const [event] = stampEvents('ses_a', [{ type: 'tool-request', turn: 1, callId: 'c1', tool: 't', input: { when: new Date(0), skip: undefined, list: [undefined] }, idempotencyKey: 'k' }]);
    await journal.append('ses_a', [event!], 0);
    const [read] = await readAll(journal, 'ses_a');
    expect(read).toMatchObject({ input: { when: '1970-01-01T00:00:00.000Z', list: [null] } });
    expect(Object.keys((read as { input: object }).input)).toEqual(['when', 'list']);
  });
});
