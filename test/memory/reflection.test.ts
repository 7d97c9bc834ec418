import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { createExactScanIndex } from '../../src/memory/exact-scan-index.ts';
import { createHashingEmbedder } from '../../src/memory/hashing-embedder.ts';
import { createMemoryStore } from '../../src/memory/memory-store.ts';
import type { MemoryRecord } from '../../src/memory/memory-types.ts';
import { createReflector, reflectionPrompt } from '../../src/memory/reflection.ts';

function openStore() {
  return createMemoryStore({ database: new Database(':memory:'), embedder: createHashingEmbedder(), index: createExactScanIndex({ dimensions: 384 }) });
}

describe('reflection', () => {
  it('reflects once accumulated importance passes the threshold, storing insights that cite real memory ids', async () => {
    const store = openStore();
    const scope = { agent: 'ops', sessionId: 'ses_1' };
    const seen: MemoryRecord[][] = [];
    const reflector = createReflector({
      store,
      threshold: 20,
      reflect: async (memories) => {
        seen.push([...memories]);
        const [first, second, third] = memories;
        return [
          { text: 'Orion backups fail when the disk is nearly full.', sourceIds: [first?.id ?? '', second?.id ?? '', 'mem_invented'] },
          { text: 'An insight citing nothing real.', sourceIds: ['mem_ghost'] },
          { text: 'Disk alerts precede backup failures.', sourceIds: [third?.id ?? ''], importance: 8 },
        ];
      },
    });
    const written = [];
    for (const [text, importance] of [['Orion backup failed', 7], ['Orion disk at 97 %', 6], ['Disk alert fired for Orion', 5]] as const) {
      written.push(await store.remember({ scope, text, importance }));
    }
    expect(await reflector.accumulated(scope)).toBe(18);
    expect((await reflector.maybeReflect(scope)).reflected).toBe(false);
    expect(seen).toHaveLength(0);

    written.push(await store.remember({ scope, text: 'Orion backup failed again', importance: 4 }));
    const outcome = await reflector.maybeReflect(scope);
    expect(outcome.reflected).toBe(true);
    expect(outcome.accumulated).toBe(22);
    expect(seen[0]?.map((memory) => memory.id)).toEqual(written.map((memory) => memory.id));
    expect(outcome.reflections.map((memory) => memory.text)).toEqual(['Orion backups fail when the disk is nearly full.', 'Disk alerts precede backup failures.']);
    expect(outcome.reflections[0]?.sources).toEqual([written[0]?.id, written[1]?.id]);
    expect(outcome.reflections[1]?.sources).toEqual([written[2]?.id]);
    expect(outcome.reflections[1]?.importance).toBe(8);
    expect([...outcome.invalidCitations].sort()).toEqual(['mem_ghost', 'mem_invented']);
    expect(outcome.droppedInsights.map((insight) => insight.text)).toEqual(['An insight citing nothing real.']);

    // Every stored reflection cites memories that exist.
    for (const reflection of (await store.list(scope)).filter((memory) => memory.kind === 'reflection')) {
      expect(await store.get(reflection.sources ?? [])).toHaveLength(reflection.sources?.length ?? -1);
    }
    // The counter restarts, and reflections themselves do not count toward it.
    expect(await reflector.accumulated(scope)).toBe(0);
    expect((await reflector.maybeReflect(scope)).reflected).toBe(false);
    const recalled = await store.recall({ scope, query: 'why do Orion backups fail', kinds: ['reflection'] });
    expect(recalled.every((entry) => entry.record.kind === 'reflection')).toBe(true);
  });

  it('does not accept citations of another scope’s memories', async () => {
    const store = openStore();
    const other = await store.remember({ scope: { agent: 'other' }, text: 'secret of another agent', importance: 10 });
    const mine = await store.remember({ scope: { agent: 'me' }, text: 'my own memory', importance: 10 });
    const reflector = createReflector({ store, reflect: async () => [{ text: 'mixed', sourceIds: [other.id, mine.id] }] });
    const outcome = await reflector.maybeReflect({ agent: 'me' }, { force: true });
    expect(outcome.reflections[0]?.sources).toEqual([mine.id]);
    expect(outcome.invalidCitations).toEqual([other.id]);
  });

  it('defaults to Park et al.’s threshold of 150 and writes a citing prompt', async () => {
    const store = openStore();
    const reflector = createReflector({ store, reflect: async () => [] });
    for (let index = 0; index < 14; index += 1) await store.remember({ scope: { agent: 'a' }, text: `event ${index}`, importance: 10 });
    expect((await reflector.maybeReflect({ agent: 'a' })).reflected).toBe(false);
    await store.remember({ scope: { agent: 'a' }, text: 'event 14', importance: 10 });
    expect((await reflector.maybeReflect({ agent: 'a' })).reflected).toBe(true);
    const [first] = await store.list({ agent: 'a' });
    expect(reflectionPrompt(await store.list({ agent: 'a' }))).toContain(`[${first?.id}] event 0`);
  });
});
