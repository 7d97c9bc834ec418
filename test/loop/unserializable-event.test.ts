import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineAgent, startSession } from '../../src/loop/index.ts';
import { defineTool } from '../../src/tools/index.ts';
import { createSqliteStore, validateJournal } from '../../src/store/index.ts';
import { scriptedCaller, text, toolUse } from '../helpers/scripted-caller.ts';
import { dependenciesFor, readAll } from '../helpers/loop-harness.ts';

const scratch = mkdtempSync(join(tmpdir(), 'keel-unserializable-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/**
 * Arguments nested deeper than JSON.stringify's stack: Keel's own walks are iterative and take them, but the journal
 * cannot store them (a model port used without the gateway, which would refuse them for their depth).
 */
function deeplyNested(levels: number): unknown {
  let value: unknown = 'bottom';
  for (let level = 0; level < levels; level += 1) value = { inner: value };
  return value;
}

function agentWithLookup(calls: unknown[]) {
  const lookup = defineTool({
    name: 'lookup',
    description: 'Look up a key',
    input: z.object({ key: z.unknown() }),
    risk: 'read',
    execute: (input) => {
      calls.push(input);
      return 'found';
    },
  });
  return defineAgent({ name: 'lookup-agent', instructions: 'Look things up.', tools: [lookup] });
}

describe('an event the journal cannot serialise', () => {
  it('ends the session failed with the journal\u2019s error, runs no tool, and leaves a well-formed journal that a reader can load', async () => {
    const store = createSqliteStore({ path: join(scratch, 'deep.db') });
    try {
      const calls: unknown[] = [];
      const script = [{ content: [text('Looking.'), toolUse('call_1', 'lookup', { key: deeplyNested(20_000) })] }, { content: [text('Done.')] }];
      const dependencies = dependenciesFor(scriptedCaller(script), { journal: store.journal, blobs: store.blobs });
      const session = startSession(agentWithLookup(calls), dependencies, { input: 'look up the key', sessionId: 'ses_deep' });
      const result = await session.result;

      expect(result.status).toBe('failed');
      expect(result.error?.code).toBe('invalid-argument');
      expect(result.error?.message).toMatch(/cannot be journaled/);
      expect(calls).toEqual([]);

      const events = await readAll(dependencies, 'ses_deep');
      const end = events.at(-1);
      expect(end?.type).toBe('session-end');
      if (end?.type !== 'session-end') return;
      expect(end.status).toBe('failed');
      expect(end.error?.code).toBe('invalid-argument');
      // Nothing of the refused append was stored, and the seqs run on without a gap.
      expect(events.map((event) => event.seq)).toEqual(events.map((_, index) => index + 1));
      expect(events.some((event) => event.type === 'tool-result' || event.type === 'tool-error')).toBe(false);
      expect(validateJournal(events).problems ?? []).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
