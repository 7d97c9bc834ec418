import { describe, expect, it } from 'vitest';
import type { MemoryRecord } from '../../src/memory/memory-types.ts';
import { minMax, scoreMemories } from '../../src/memory/retrieval-score.ts';
import { isKeelError } from '../../src/errors/index.ts';

const hour = 3_600_000;
const now = 1_000 * hour;

function record(id: string, importance: number, hoursAgo: number): MemoryRecord {
  return { id, scope: { agent: 'a' }, kind: 'observation', text: id, importance, createdAt: 0, lastAccessedAt: now - hoursAgo * hour };
}

describe('Park et al. retrieval score', () => {
  // Hand computation for three candidates:
  //   recency  = 0.995^hours: m1 0 h → 1, m2 10 h → 0.995^10 = 0.9511101…, m3 100 h → 0.995^100 = 0.6057704…
  //     normalized: m1 1, m2 (0.9511101 − 0.6057704) / (1 − 0.6057704) = 0.875986…, m3 0
  //   importance /10: 0.2, 0.9, 0.5 → normalized 0, 1, 3/7 = 0.428571…
  //   relevance: 0.1, 0.4, 0.9 → normalized 0, 0.375, 1
  const candidates = [
    { record: record('m1', 2, 0), relevance: 0.1 },
    { record: record('m2', 9, 10), relevance: 0.4 },
    { record: record('m3', 5, 100), relevance: 0.9 },
  ];
  const recencyM2 = (0.995 ** 10 - 0.995 ** 100) / (1 - 0.995 ** 100);

  it('normalizes each component across the candidates and sums them with weights 1/1/1', () => {
    const scored = scoreMemories(candidates, { now });
    const byId = Object.fromEntries(scored.map((entry) => [entry.record.id, entry]));
    expect(recencyM2).toBeCloseTo(0.875986, 5);
    expect(byId.m1?.raw.recency).toBe(1);
    expect(byId.m2?.raw.recency).toBeCloseTo(0.95111, 5);
    expect(byId.m3?.raw.recency).toBeCloseTo(0.60577, 5);
    expect(byId.m1?.components).toEqual({ recency: 1, importance: 0, relevance: 0 });
    expect(byId.m2?.components.recency).toBeCloseTo(recencyM2, 12);
    expect(byId.m2?.components.importance).toBe(1);
    expect(byId.m2?.components.relevance).toBeCloseTo(0.375, 12);
    expect(byId.m3?.components).toEqual({ recency: 0, importance: expect.closeTo(3 / 7, 12), relevance: 1 });
    expect(byId.m1?.score).toBe(1);
    expect(byId.m2?.score).toBeCloseTo(recencyM2 + 1 + 0.375, 12); // 2.250986…
    expect(byId.m3?.score).toBeCloseTo(3 / 7 + 1, 12); // 1.428571…
    expect(scored.map((entry) => entry.record.id)).toEqual(['m2', 'm3', 'm1']);
  });

  it('applies configurable weights', () => {
    const relevanceOnly = scoreMemories(candidates, { now, weights: { recency: 0, importance: 0, relevance: 1 } });
    expect(relevanceOnly.map((entry) => entry.record.id)).toEqual(['m3', 'm2', 'm1']);
    expect(relevanceOnly.map((entry) => entry.score)).toEqual([1, expect.closeTo(0.375, 12), 0]);
    const recencyHeavy = scoreMemories(candidates, { now, weights: { recency: 3, importance: 0.5 } });
    const byId = Object.fromEntries(recencyHeavy.map((entry) => [entry.record.id, entry.score]));
    expect(byId.m1).toBe(3);
    expect(byId.m2).toBeCloseTo(3 * recencyM2 + 0.5 + 0.375, 12); // 3.502959…
    expect(byId.m3).toBeCloseTo(0.5 * (3 / 7) + 1, 12);
    expect(recencyHeavy[0]?.record.id).toBe('m2');
  });

  it('uses the configured decay per hour', () => {
    const scored = scoreMemories(candidates, { now, recencyDecay: 0.9 });
    const m2 = scored.find((entry) => entry.record.id === 'm2');
    expect(m2?.raw.recency).toBeCloseTo(0.9 ** 10, 12);
    expect(m2?.components.recency).toBeCloseTo((0.9 ** 10 - 0.9 ** 100) / (1 - 0.9 ** 100), 12);
  });

  it('gives 0.5 to a component equal across candidates, and handles one or no candidates', () => {
    expect(minMax([3, 3, 3])).toEqual([0.5, 0.5, 0.5]);
    expect(minMax([])).toEqual([]);
    const [only] = scoreMemories([{ record: record('solo', 7, 5), relevance: 0.3 }], { now });
    expect(only?.score).toBe(1.5);
    expect(scoreMemories([], { now })).toEqual([]);
  });

  it('rejects negative weights and a decay outside (0, 1]', () => {
    expect(() => scoreMemories(candidates, { now, weights: { relevance: -1 } })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    try {
      scoreMemories(candidates, { now, recencyDecay: 1.5 });
      expect.unreachable();
    } catch (error) {
      expect(isKeelError(error, 'invalid-argument')).toBe(true);
    }
  });
});
