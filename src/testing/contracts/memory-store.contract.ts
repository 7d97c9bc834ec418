import { afterEach, describe, expect, it } from 'vitest';
import { createHashingEmbedder } from '../../memory/hashing-embedder.ts';
import { createReflector } from '../../memory/reflection.ts';
import { scoreMemories } from '../../memory/retrieval-score.ts';
import { cosineSimilarity } from '../../memory/vector-math.ts';
import type { Embedder } from '../../spec/vector.ts';
import type { MemoryRecord, MemoryStore, RetrievalWeights } from '../../spec/memory-store.ts';
import { expectKeelError } from './journal.contract.ts';
import { createManualClock } from './session-lease.contract.ts';
import type { ManualClock } from './session-lease.contract.ts';
import { seededRandom } from './vector-index.contract.ts';

/** What a memory store backend is opened with in the contract: its clock and its embedder. */
export interface MemoryStoreContractContext {
  readonly clock: { now(): number };
  readonly embedder: Embedder;
}

export interface MemoryStoreContractOptions {
  /** A second handle on the same storage as `store`, as another process would open it. Without it the sharing tests are skipped. */
  readonly reopen?: (store: MemoryStore, context: MemoryStoreContractContext) => Promise<MemoryStore> | MemoryStore;
}

const hour = 3_600_000;
const words = ['backup', 'deploy', 'orion', 'vega', 'database', 'outage', 'latency', 'quota', 'disk', 'certificate', 'rotation', 'invoice', 'region', 'cluster', 'alert', 'billing'];

/**
 * The behaviour every MemoryStore backend must have. `open` builds a fresh, empty store reading time from the given
 * clock and embedding with the given embedder. Ranking is checked against a reference computed here (brute-force
 * cosine, then the α·recency + β·importance + γ·relevance score), so every backend that passes ranks the same data
 * in the same order.
 */
export function describeMemoryStoreContract(
  name: string,
  open: (context: MemoryStoreContractContext) => Promise<MemoryStore> | MemoryStore,
  options: MemoryStoreContractOptions = {},
): void {
  describe(`MemoryStore contract: ${name}`, () => {
    const opened: MemoryStore[] = [];
    afterEach(async () => {
      for (const store of opened.splice(0).reverse()) await store.close();
    });
    async function fresh(): Promise<{ store: MemoryStore; clock: ManualClock; context: MemoryStoreContractContext }> {
      const clock = createManualClock();
      const context = { clock, embedder: createHashingEmbedder({ dimensions: 128 }) };
      const store = await open(context);
      opened.push(store);
      return { store, clock, context };
    }

    it('remembers per session and per agent, and recalls within the scope asked', async () => {
      const { store } = await fresh();
      await store.remember({ scope: { agent: 'ops', sessionId: 'ses_1' }, text: 'The Orion database backup failed at 02:00.', importance: 6 });
      await store.remember({ scope: { agent: 'ops', sessionId: 'ses_2' }, text: 'The Orion database backup succeeded on retry.', importance: 4 });
      await store.remember({ scope: { agent: 'ops' }, text: 'Orion backups are kept for 30 days.', importance: 7 });
      await store.remember({ scope: { agent: 'sales' }, text: 'The Orion database backup pricing deck is ready.', importance: 3 });
      const session = await store.recall({ scope: { agent: 'ops', sessionId: 'ses_1' }, query: 'Orion database backup', k: 5 });
      expect(session.map((entry) => entry.record.text)).toEqual(['The Orion database backup failed at 02:00.']);
      const agent = await store.recall({ scope: { agent: 'ops' }, query: 'Orion database backup', k: 5 });
      expect(agent.map((entry) => entry.record.scope.agent)).toEqual(['ops', 'ops', 'ops']);
      expect(agent[0]?.record.scope).toEqual({ agent: 'ops', sessionId: 'ses_1' });
      const onlyFacts = await store.recall({ scope: { agent: 'ops' }, query: 'Orion database backup', kinds: ['fact'] });
      expect(onlyFacts).toEqual([]);
    });

    it('ranks like the reference score for every weighting, and marks what it returns accessed', async () => {
      const { store, clock, context } = await fresh();
      const random = seededRandom(16);
      const scope = { agent: 'ranker' };
      const texts: string[] = [];
      for (let index = 0; index < 40; index += 1) {
        const picked = Array.from({ length: 4 }, () => words[Math.floor(random() * words.length)] as string);
        const text = `note ${index}: ${picked.join(' ')}`;
        texts.push(text);
        await store.remember({ scope: index % 3 === 0 ? { ...scope, sessionId: `ses_${index % 2}` } : scope, text, importance: 1 + Math.floor(random() * 10) });
        clock.advance(Math.floor(random() * 5 * hour));
      }
      await store.remember({ scope: { agent: 'elsewhere' }, text: 'orion backup deploy vega', importance: 10 });
      const query = 'orion backup deploy latency';
      const [queryVector] = await context.embedder.embed([query]);
      const weightings: Partial<RetrievalWeights>[] = [{}, { recency: 0, importance: 0, relevance: 1 }, { recency: 1, importance: 0, relevance: 0 }, { recency: 0.5, importance: 2, relevance: 1 }];
      for (const weights of weightings) {
        clock.advance(hour);
        const all = await store.list(scope);
        expect(all).toHaveLength(40);
        const vectors = await context.embedder.embed(all.map((record) => record.text));
        const reference = scoreMemories(
          all
            .map((record, index) => ({ record, relevance: cosineSimilarity(vectors[index] as Float32Array, queryVector as Float32Array) }))
            .sort((a, b) => b.relevance - a.relevance || (a.record.id < b.record.id ? -1 : 1)),
          { now: clock.now(), weights },
        ).slice(0, 8);
        const recalled = await store.recall({ scope, query, k: 8, weights });
        expect(recalled.map((entry) => entry.record.text), JSON.stringify(weights)).toEqual(reference.map((entry) => entry.record.text));
        recalled.forEach((entry, index) => expect(entry.score).toBeCloseTo(reference[index]?.score as number, 5));
        const touched = await store.get(recalled.map((entry) => entry.record.id));
        expect(touched.every((record) => record.lastAccessedAt === clock.now())).toBe(true);
      }
    });

    it('gets records in the order asked, lists them in insertion order, and keeps their fields exactly', async () => {
      const { store, clock } = await fresh();
      const scope = { agent: 'a', sessionId: 's' };
      const first = await store.remember({ scope, text: 'plain ascii', importance: 2.5, kind: 'fact' });
      clock.advance(1_000);
      const second = await store.remember({ scope, text: 'nul \u0000 byte, emoji 🚀, accents é, tab\tend', importance: 9, kind: 'tool-result' });
      clock.advance(1_000);
      const third = await store.remember({ scope: { agent: 'a' }, text: 'agent-wide', sources: [first.id, second.id], kind: 'reflection' });
      expect(await store.get([third.id, 'mem_unknown', first.id, second.id])).toEqual([third, first, second]);
      expect(await store.get([])).toEqual([]);
      expect(second.text).toBe('nul \u0000 byte, emoji 🚀, accents é, tab\tend');
      expect(third).toMatchObject({ importance: 5, sources: [first.id, second.id], scope: { agent: 'a' } });
      const listed = await store.list({ agent: 'a' });
      expect(listed.map((record) => record.id)).toEqual([first.id, second.id, third.id]);
      expect(listed[0]?.sequence).toBeLessThan(listed[1]?.sequence as number);
      expect(listed[1]?.sequence).toBeLessThan(listed[2]?.sequence as number);
      const { sequence, ...fields } = listed[1] as MemoryRecord & { sequence: number };
      expect(Number.isInteger(sequence)).toBe(true);
      expect(fields).toEqual(second);
      expect((await store.list(scope)).map((record) => record.id)).toEqual([first.id, second.id]);
      expect((await store.list({ agent: 'a' }, { afterSequence: listed[0]?.sequence as number })).map((record) => record.id)).toEqual([second.id, third.id]);
      expect((await store.list({ agent: 'a' }, { limit: 1 })).map((record) => record.id)).toEqual([first.id]);
      expect(await store.list({ agent: 'nobody' })).toEqual([]);
    });

    it('makes a write with a given id idempotent, also when writers race', async () => {
      const { store } = await fresh();
      const scope = { agent: 'a', sessionId: 's' };
      const first = await store.remember({ id: 'mem_tool_1', scope, text: 'the first write', importance: 3 });
      const again = await store.remember({ id: 'mem_tool_1', scope, text: 'a repeated write', importance: 8 });
      expect(again).toEqual(first);
      const raced = await Promise.all(Array.from({ length: 5 }, (_, index) => store.remember({ id: 'mem_tool_2', scope, text: `racer ${index}` })));
      expect(new Set(raced.map((record) => record.text)).size).toBe(1);
      expect((await store.list(scope)).map((record) => record.id)).toEqual(['mem_tool_1', 'mem_tool_2']);
      expect(await store.recall({ scope, query: raced[0]?.text as string, k: 5 })).toHaveLength(2);
      await expectKeelError(store.remember({ id: 'has space', scope, text: 'x' }), 'invalid-argument');
    });

    it('keeps many concurrent writes, each once, with distinct sequences', async () => {
      const { store } = await fresh();
      await Promise.all(Array.from({ length: 30 }, (_, index) => store.remember({ scope: { agent: 'busy', sessionId: `s${index % 3}` }, text: `event ${index} ${words[index % words.length]}` })));
      const listed = await store.list({ agent: 'busy' });
      expect(listed).toHaveLength(30);
      expect(new Set(listed.map((record) => record.sequence)).size).toBe(30);
      expect(new Set(listed.map((record) => record.text)).size).toBe(30);
    });

    it('keeps reflection progress per scope, and a reflector resumes from it', async () => {
      const { store } = await fresh();
      const session = { agent: 'ops', sessionId: 'ses_1' };
      expect(await store.reflectedThrough(session)).toBe(0);
      await store.markReflected(session, 7);
      expect(await store.reflectedThrough(session)).toBe(7);
      expect(await store.reflectedThrough({ agent: 'ops' })).toBe(0);
      expect(await store.reflectedThrough({ agent: 'ops', sessionId: 'ses_2' })).toBe(0);
      await store.markReflected(session, 0);
      const scope = { agent: 'thinker' };
      for (let index = 0; index < 3; index += 1) await store.remember({ scope, text: `disk quota exceeded on host ${index}`, importance: 8 });
      const reflector = createReflector({ store, threshold: 20, reflect: async (memories) => [{ text: 'Disk quotas are the recurring problem.', sourceIds: [memories[0]?.id as string, 'mem_invented'] }] });
      expect(await reflector.accumulated(scope)).toBe(24);
      const outcome = await reflector.maybeReflect(scope);
      expect(outcome).toMatchObject({ reflected: true, accumulated: 24, invalidCitations: ['mem_invented'] });
      expect(await reflector.accumulated(scope)).toBe(0);
      const listed = await store.list(scope);
      expect(await store.reflectedThrough(scope)).toBe(listed[2]?.sequence);
      expect(listed.at(-1)).toMatchObject({ kind: 'reflection', text: 'Disk quotas are the recurring problem.', sources: [listed[0]?.id] });
    });

    it('moves the reflection mark only from the expected mark, so of two racing reflectors exactly one stores insights', async () => {
      const { store, context } = await fresh();
      const marked = { agent: 'cas' };
      expect(await store.markReflected(marked, 5, { expected: 0 })).toBe(true);
      expect(await store.markReflected(marked, 6, { expected: 0 })).toBe(false);
      expect(await store.markReflected(marked, 9, { expected: 4 })).toBe(false);
      expect(await store.reflectedThrough(marked)).toBe(5);
      expect(await store.markReflected(marked, 9, { expected: 5 })).toBe(true);
      expect(await store.markReflected({ agent: 'cas', sessionId: 's' }, 3, { expected: 2 })).toBe(false);
      expect(await store.reflectedThrough({ agent: 'cas', sessionId: 's' })).toBe(0);

      // A second handle (another process) when the storage has one; both read the memories before either stores.
      const other = options.reopen === undefined ? store : await options.reopen(store, context);
      if (other !== store) opened.push(other);
      const scope = { agent: 'racing' };
      for (let index = 0; index < 4; index += 1) await store.remember({ scope, text: `the orion queue stalled for the ${index + 1}th time`, importance: 9 });
      let waiting = 0;
      let release: () => void = () => undefined;
      const bothRead = new Promise<void>((resolve) => (release = resolve));
      const reflectorOn = (handle: MemoryStore, name: string) =>
        createReflector({
          store: handle,
          threshold: 10,
          reflect: async (memories) => {
            waiting += 1;
            if (waiting === 2) release();
            await bothRead;
            return [{ text: `${name}: the orion queue stalls repeatedly.`, sourceIds: memories.map((memory) => memory.id) }];
          },
        });
      const outcomes = await Promise.all([reflectorOn(store, 'first').maybeReflect(scope), reflectorOn(other, 'second').maybeReflect(scope)]);
      expect(outcomes.filter((outcome) => outcome.reflected)).toHaveLength(1);
      const loser = outcomes.find((outcome) => !outcome.reflected);
      expect(loser).toMatchObject({ superseded: true, reflections: [] });
      expect(loser?.droppedInsights).toHaveLength(1);
      const reflections = (await store.list(scope)).filter((memory) => memory.kind === 'reflection');
      expect(reflections).toHaveLength(1);
      expect(reflections[0]?.text).toBe(outcomes.find((outcome) => outcome.reflected)?.reflections[0]?.text);
      const sources = (await store.list(scope)).filter((memory) => memory.kind !== 'reflection');
      expect(await store.reflectedThrough(scope)).toBe(sources.at(-1)?.sequence);
      expect(await reflectorOn(other, 'third').accumulated(scope)).toBe(0);
    });

    it('refuses invalid arguments with invalid-argument', async () => {
      const { store } = await fresh();
      const scope = { agent: 'a' };
      await expectKeelError(store.remember({ scope, text: '  ' }), 'invalid-argument');
      await expectKeelError(store.remember({ scope, text: 'x', importance: 11 }), 'invalid-argument');
      await expectKeelError(store.remember({ scope: { agent: '' }, text: 'x' }), 'invalid-argument');
      await expectKeelError(store.remember({ scope: { agent: 'a', sessionId: '' }, text: 'x' }), 'invalid-argument');
      await expectKeelError(store.recall({ scope, query: 'x', k: 0 }), 'invalid-argument');
      await expectKeelError(store.recall({ scope, query: 'x', k: 1e300 }), 'invalid-argument');
      await expectKeelError(store.remember({ scope: { agent: 'a\u0000b' }, text: 'x' }), 'invalid-argument');
      await expectKeelError(store.remember({ scope: { agent: 'a', sessionId: 's\uD800' }, text: 'x' }), 'invalid-argument');
      await expectKeelError(store.remember({ scope: { agent: 'a'.repeat(513) }, text: 'x' }), 'invalid-argument');
      await expectKeelError(store.remember({ scope, text: 'x', sources: ['evt\u0000'] }), 'invalid-argument');
      await expectKeelError(store.list(scope, { afterSequence: -1 }), 'invalid-argument');
      await expectKeelError(store.list(scope, { limit: 0 }), 'invalid-argument');
      await expectKeelError(store.markReflected(scope, -1), 'invalid-argument');
      await expectKeelError(store.markReflected(scope, 1.5), 'invalid-argument');
      await expectKeelError(store.markReflected(scope, 1, { expected: -1 }), 'invalid-argument');
      await expectKeelError(store.reflectedThrough({ agent: '' }), 'invalid-argument');
      expect(await store.list(scope)).toEqual([]);
    });

    it.skipIf(options.reopen === undefined)('shares memories, accesses and reflection progress with another handle on the same storage', async () => {
      const { store, clock, context } = await fresh();
      const other = await (options.reopen as NonNullable<MemoryStoreContractOptions['reopen']>)(store, context);
      opened.push(other);
      const scope = { agent: 'shared' };
      const written = await store.remember({ scope, text: 'The Vega certificate rotates on Fridays.', importance: 6 });
      const more = await other.remember({ scope, text: 'The Vega cluster alert fired twice.', importance: 4 });
      expect((await other.list(scope)).map((record) => record.id)).toEqual([written.id, more.id]);
      clock.advance(hour);
      const [best] = await other.recall({ scope, query: 'Vega certificate rotation', k: 1 });
      expect(best?.record.id).toBe(written.id);
      expect((await store.get([written.id]))[0]?.lastAccessedAt).toBe(clock.now());
      await other.markReflected(scope, 2);
      expect(await store.reflectedThrough(scope)).toBe(2);
    });
  });
}
