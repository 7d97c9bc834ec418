import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { SessionEvent } from '../../src/spec/events.ts';
import type { Journal } from '../../src/spec/journal.ts';
import { createMemoryJournal, createSqliteJournal, validateJournal } from '../../src/store/index.ts';
import { readAll } from '../../src/testing/contracts/journal.contract.ts';
import { createTemporaryFolders } from './temporary-folder.ts';

// Journals written by earlier versions of Keel, kept byte for byte: every one must keep loading (DESIGN.md §1).
const fixtureFolder = new URL('../fixtures/journals/', import.meta.url);
const fixtures = readdirSync(fixtureFolder).filter((name) => name.endsWith('.jsonl'));

const folders = createTemporaryFolders();
afterAll(() => folders.removeAll());

function load(name: string): SessionEvent[] {
  const text = readFileSync(fileURLToPath(new URL(name, fixtureFolder)), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as SessionEvent);
}

const backends: readonly { readonly name: string; readonly open: () => Journal }[] = [
  { name: 'memory', open: () => createMemoryJournal() },
  { name: 'sqlite', open: () => createSqliteJournal({ path: folders.databasePath() }) },
];

describe('historical journals', () => {
  it('include the v1 incident session', () => {
    expect(fixtures).toContain('v1-incident-session.jsonl');
  });

  describe.each(fixtures)('%s', (name) => {
    const events = load(name);
    const first = events[0]!;
    const end = events.at(-1)!;

    it('is a valid journal', () => {
      expect(validateJournal(events)).toEqual({ valid: true, problems: [] });
    });

    it.each(backends)('loads into the $name journal and reads back unchanged, with its summary', async ({ open }) => {
      const journal = open();
      try {
        // Appended in two parts, as a resumed session would be.
        const middle = Math.floor(events.length / 2);
        await journal.append(first.sessionId, events.slice(0, middle), 0);
        await journal.append(first.sessionId, events.slice(middle), middle);
        expect(await readAll(journal, first.sessionId)).toEqual(events);
        const [summary] = await journal.listSessions();
        expect(summary).toEqual({
          sessionId: first.sessionId,
          agent: first.type === 'session-start' ? first.agent.name : '',
          startedAt: first.at,
          updatedAt: end.at,
          lastSeq: events.length,
          status: end.type === 'session-end' ? end.status : null,
        });
      } finally {
        await journal.close();
      }
    });
  });
});
