import { afterAll, describe, expect, it } from 'vitest';
import { isKeelError } from '../../src/errors/index.ts';
import { createSqliteJournal, createSqliteStore } from '../../src/store/index.ts';
import type { SessionEvent } from '../../src/spec/index.ts';
import { readAll } from '../../src/testing/contracts/journal.contract.ts';
import { sampleSession, stampEvents, toolResultBody } from '../../src/testing/contracts/journal-samples.ts';
import { createTemporaryFolders } from './temporary-folder.ts';

const folders = createTemporaryFolders();
afterAll(() => folders.removeAll());

function cyclic(): unknown {
  const value: Record<string, unknown> = { name: 'loop' };
  value.self = value;
  return value;
}

function deeplyNested(depth: number): unknown {
  let value: unknown = 'bottom';
  for (let level = 0; level < depth; level += 1) value = [value];
  return value;
}

/** A tool result whose output JSON cannot represent, as a tool returning such a value would produce. */
function unserializableEvent(sessionId: string, seq: number, output: unknown): SessionEvent {
  const [event] = stampEvents(sessionId, [toolResultBody(1, 'call_1', 'placeholder')], seq);
  return { ...event!, output } as unknown as SessionEvent;
}

const cases: readonly (readonly [string, () => unknown])[] = [
  ['a cycle', cyclic],
  ['a BigInt', () => ({ amount: 10n })],
  ['nesting deeper than the stack', () => deeplyNested(1_000_000)],
];

describe('an event JSON cannot represent', () => {
  for (const groupCommit of [true, false]) {
    for (const [what, value] of cases) {
      it(`with ${what} fails with invalid-argument naming the event, and the session stays writable (group commit ${groupCommit ? 'on' : 'off'})`, async () => {
        const store = createSqliteStore({ path: folders.databasePath(), groupCommit });
        const { journal } = store;
        const session = sampleSession('ses_bad');
        await journal.append('ses_bad', session.slice(0, 2), 0);
        const bad = unserializableEvent('ses_bad', 3, value());
        const failure = await journal.append('ses_bad', [bad], 2).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(isKeelError(failure) && failure.code).toBe('invalid-argument');
        if (!isKeelError(failure)) throw new Error('expected a KeelError');
        expect(failure.retryable).toBe(false);
        expect(failure.message).toContain('Event 3 (tool-result) of session ses_bad');
        expect(failure.details).toMatchObject({ sessionId: 'ses_bad', seq: 3, type: 'tool-result' });
        // Nothing of the batch was stored, and the same seq is free for a well-formed event.
        expect(await journal.lastSeq('ses_bad')).toBe(2);
        expect(await journal.append('ses_bad', session.slice(2), 2)).toBe(session.length);
        expect(await readAll(journal, 'ses_bad')).toEqual(session);
        await store.close();
      });
    }
  }

  it('fails the synchronous append the same way', async () => {
    const journal = createSqliteJournal({ path: folders.databasePath() });
    const session = sampleSession('ses_sync');
    journal.appendSync('ses_sync', session.slice(0, 1), 0);
    expect(() => journal.appendSync('ses_sync', [unserializableEvent('ses_sync', 2, cyclic())], 1)).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    expect(journal.lastSeqSync('ses_sync')).toBe(1);
    await journal.close();
  });
});
