import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createExactScanIndex } from '../../src/memory/exact-scan-index.ts';
import { createHashingEmbedder } from '../../src/memory/hashing-embedder.ts';
import { createMemoryStore, importancePrompt, parseImportance } from '../../src/memory/memory-store.ts';
import type { SqliteMemoryStore } from '../../src/memory/memory-store.ts';
import { renderMemorySegment } from '../../src/memory/memory-segment.ts';
import { createSqliteVecIndex } from '../../src/memory/sqlite-vec-index.ts';
import { expectKeelError } from '../../src/testing/contracts/index.ts';

const hour = 3_600_000;
let now = 1_700_000_000_000;
const clock = { now: () => now };
const stores: SqliteMemoryStore[] = [];

function open(overrides: Partial<Parameters<typeof createMemoryStore>[0]> = {}): SqliteMemoryStore {
  const database = new Database(':memory:');
  const store = createMemoryStore({
    database,
    embedder: createHashingEmbedder(),
    index: createSqliteVecIndex({ database, dimensions: 384, name: 'memory_vectors' }),
    clock,
    ...overrides,
  });
  stores.push(store);
  return store;
}

afterEach(async () => {
  for (const store of stores.splice(0)) {
    await store.close();
    store.database.close();
  }
});

describe('memory store', () => {
  it('remembers per session and per agent, and recalls within the scope asked', async () => {
    const store = open();
    await store.remember({ scope: { agent: 'ops', sessionId: 'ses_1' }, text: 'The Orion database backup failed at 02:00.', importance: 6 });
    await store.remember({ scope: { agent: 'ops', sessionId: 'ses_2' }, text: 'The Orion database backup succeeded on retry.', importance: 4 });
    await store.remember({ scope: { agent: 'ops' }, text: 'Orion backups are kept for 30 days.', importance: 7 });
    await store.remember({ scope: { agent: 'sales' }, text: 'The Orion database backup pricing deck is ready.', importance: 3 });

    const session = await store.recall({ scope: { agent: 'ops', sessionId: 'ses_1' }, query: 'Orion database backup', k: 5 });
    expect(session.map((entry) => entry.record.text)).toEqual(['The Orion database backup failed at 02:00.']);
    const agent = await store.recall({ scope: { agent: 'ops' }, query: 'Orion database backup', k: 5 });
    expect(agent).toHaveLength(3);
    expect(agent.every((entry) => entry.record.scope.agent === 'ops')).toBe(true);
    expect(agent[0]?.record.scope).toEqual({ agent: 'ops', sessionId: 'ses_1' });
  });

  it('ranks by α·recency + β·importance + γ·relevance, with configurable weights, and marks recalled memories accessed', async () => {
    const store = open();
    const scope = { agent: 'a' };
    now = 1_700_000_000_000;
    const old = await store.remember({ scope, text: 'deploy window is Tuesday for Vega', importance: 9 });
    now += 48 * hour;
    const fresh = await store.remember({ scope, text: 'lunch order for the Vega team', importance: 1 });
    now += hour;
    const byRelevance = await store.recall({ scope, query: 'Vega deploy window', k: 2, weights: { recency: 0, importance: 0, relevance: 1 } });
    expect(byRelevance[0]?.record.id).toBe(old.id);
    const byRecency = await store.recall({ scope, query: 'Vega deploy window', k: 2, weights: { recency: 1, importance: 0, relevance: 0 } });
    // The first recall touched `old` too (both were returned), so recency ties; the input order (relevance) decides.
    expect(byRecency.map((entry) => entry.components.recency)).toEqual([0.5, 0.5]);
    expect((await store.get([old.id, fresh.id])).map((record) => record.lastAccessedAt)).toEqual([now, now]);
    const balanced = await store.recall({ scope, query: 'Vega deploy window', k: 1 });
    expect(balanced[0]?.record.id).toBe(old.id);
    expect(balanced[0]?.raw.importance).toBe(0.9);
  });

  it('takes importance from the writer, else from the rater (clamped, rounded), else 5', async () => {
    const rated: string[] = [];
    const store = open({
      rateImportance: async (text) => {
        rated.push(text);
        return text.includes('outage') ? 12.4 : 3.4;
      },
    });
    const scope = { agent: 'a', sessionId: 's' };
    expect((await store.remember({ scope, text: 'given', importance: 8 })).importance).toBe(8);
    expect((await store.remember({ scope, text: 'an outage began' })).importance).toBe(10);
    expect((await store.remember({ scope, text: 'coffee' })).importance).toBe(3);
    expect(rated).toEqual(['an outage began', 'coffee']);
    expect((await open().remember({ scope, text: 'unrated' })).importance).toBe(5);
    await expectKeelError(store.remember({ scope, text: 'bad', importance: 11 }), 'invalid-argument');
    await expectKeelError(store.remember({ scope: { agent: '' }, text: 'no agent' }), 'invalid-argument');
    await expectKeelError(store.remember({ scope, text: '  ' }), 'invalid-argument');
    expect((await store.list(scope)).map((record) => record.text)).toEqual(['given', 'an outage began', 'coffee']);
  });

  it('rates with a model through the Park et al. prompt and parses its answer', () => {
    expect(importancePrompt('The server caught fire')).toContain('Memory: The server caught fire');
    expect(parseImportance('Rating: 8')).toBe(8);
    expect(parseImportance('10/10, a disaster')).toBe(10);
    expect(parseImportance('no idea')).toBeUndefined();
  });

  it('works over the exact-scan index too, and renders recalled memories for the context segment', async () => {
    const store = open({ index: createExactScanIndex({ dimensions: 384 }) });
    const record = await store.remember({ scope: { agent: 'a' }, text: 'The  staging cluster\nmoved to region eu-west.', importance: 4 });
    const recalled = await store.recall({ scope: { agent: 'a' }, query: 'staging cluster region' });
    expect(renderMemorySegment(recalled)).toBe(`Relevant memories:\n- [observation ${record.id}, importance 4] The staging cluster moved to region eu-west.`);
    expect(renderMemorySegment([])).toBe('');
  });

  it('keeps reflection progress per scope in the store, beside the memories', async () => {
    const store = open();
    const session = { agent: 'ops', sessionId: 'ses_1' };
    expect(await store.reflectedThrough(session)).toBe(0);
    await store.markReflected(session, 7);
    expect(await store.reflectedThrough(session)).toBe(7);
    expect(await store.reflectedThrough({ agent: 'ops' })).toBe(0);
    expect(await store.reflectedThrough({ agent: 'ops', sessionId: 'ses_2' })).toBe(0);
    // A second store on the same database sees the same progress, as a restarted process would.
    const reopened = createMemoryStore({ database: store.database, embedder: createHashingEmbedder(), index: createExactScanIndex({ dimensions: 384 }) });
    expect(await reopened.reflectedThrough(session)).toBe(7);
    await reopened.close();
    await expectKeelError(store.markReflected(session, -1), 'invalid-argument');
    await expectKeelError(store.markReflected(session, 1.5), 'invalid-argument');
    await expectKeelError(store.reflectedThrough({ agent: '' }), 'invalid-argument');
  });

  it('refuses an embedder and index of different dimensions', () => {
    expect(() => open({ index: createExactScanIndex({ dimensions: 8 }) })).toThrow(expect.objectContaining({ code: 'invalid-config' }));
  });
});
