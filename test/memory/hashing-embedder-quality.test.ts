import { describe, expect, it } from 'vitest';
import { createExactScanIndex } from '../../src/memory/exact-scan-index.ts';
import { createHashingEmbedder } from '../../src/memory/hashing-embedder.ts';
import type { Embedder } from '../../src/memory/memory-types.ts';
import { buildRetrievalSet } from './fixtures/retrieval-set.ts';

export async function measureRetrieval(embedder: Embedder, split: 'paraphrase' | 'keyword' = 'paraphrase'): Promise<{ recallAt1: number; recallAt5: number; mrr: number; queries: number; passages: number }> {
  const set = buildRetrievalSet();
  const passages = set.passages;
  const queries = split === 'paraphrase' ? set.queries : set.keywordQueries;
  const index = createExactScanIndex({ dimensions: embedder.dimensions });
  const vectors = await embedder.embed(passages.map((passage) => passage.text));
  await index.upsert(passages.map((passage, position) => ({ id: passage.id, vector: vectors[position] as Float32Array })));
  const queryVectors = await embedder.embed(queries.map((query) => query.text));
  let hitsAt1 = 0;
  let hitsAt5 = 0;
  let reciprocalRanks = 0;
  for (const [position, query] of queries.entries()) {
    const ranked = await index.search(queryVectors[position] as Float32Array, passages.length);
    const rank = ranked.findIndex((match) => match.id === query.relevantId) + 1;
    if (rank === 1) hitsAt1 += 1;
    if (rank >= 1 && rank <= 5) hitsAt5 += 1;
    if (rank >= 1) reciprocalRanks += 1 / rank;
  }
  return { recallAt1: hitsAt1 / queries.length, recallAt5: hitsAt5 / queries.length, mrr: reciprocalRanks / queries.length, queries: queries.length, passages: passages.length };
}

describe('hashing embedder retrieval quality (lexical, no weights)', () => {
  it('has 50 queries over 300 passages, one relevant passage each', () => {
    const { passages, queries } = buildRetrievalSet();
    expect(passages).toHaveLength(300);
    expect(queries).toHaveLength(50);
    expect(new Set(passages.map((passage) => passage.id)).size).toBe(300);
  });

  it('is measured and stated: recall@5 and MRR on the labeled set', async () => {
    const embedder = createHashingEmbedder({ dimensions: 384 });
    const paraphrase = await measureRetrieval(embedder, 'paraphrase');
    const keyword = await measureRetrieval(embedder, 'keyword');
    const wordsOnly = await measureRetrieval(createHashingEmbedder({ dimensions: 384, trigramWeight: 0 }), 'paraphrase');
    const line = (name: string, quality: typeof paraphrase): string =>
      `${name}: recall@1 ${quality.recallAt1.toFixed(2)}, recall@5 ${quality.recallAt5.toFixed(2)}, MRR ${quality.mrr.toFixed(3)} (${quality.queries} queries, ${quality.passages} passages)`;
    console.log(
      [
        'hashing embedder, 384 d, word unigrams + character trigrams:',
        line('  paraphrase queries (headline)', paraphrase),
        line('  keyword queries', keyword),
        line('  paraphrase, word unigrams only', wordsOnly),
      ].join('\n'),
    );
    // Measured 0.24 / 0.205 and 1.00 / 1.000: lexical matching fails on paraphrase, as expected; floors catch regressions.
    expect(paraphrase.recallAt5).toBeGreaterThanOrEqual(0.2);
    expect(paraphrase.mrr).toBeGreaterThanOrEqual(0.18);
    expect(keyword.recallAt5).toBeGreaterThanOrEqual(0.95);
    expect(keyword.mrr).toBeGreaterThanOrEqual(0.9);
  });

  it('is deterministic, unit length, and tolerant of empty text', async () => {
    const embedder = createHashingEmbedder();
    const [a, b, empty] = await embedder.embed(['Nightly backups', 'Nightly backups', '']);
    expect(a).toEqual(b);
    expect(Math.hypot(...(a as Float32Array))).toBeCloseTo(1, 5);
    expect((empty as Float32Array).every((value) => value === 0)).toBe(true);
    expect(embedder.id).toBe('hashing:v1@384');
  });
});
