/**
 * Semantic deduplication of retrieved documents without embeddings: texts are normalized (NFKC, lower
 * case, punctuation to spaces), cut into word shingles, and compared by Jaccard similarity. A document whose
 * similarity to something already in context, or to an earlier kept document, reaches `threshold` is dropped.
 */
export interface DedupOptions {
  /** Jaccard similarity at or above which a document counts as a duplicate. Default 0.8. */
  readonly threshold?: number;
  /** Words per shingle. Default 3. */
  readonly shingleSize?: number;
}

export function normalizeText(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, ' ').trim();
}

export function shingles(text: string, size = 3): Set<string> {
  const words = normalizeText(text).split(' ').filter((word) => word.length > 0);
  const set = new Set<string>();
  if (words.length === 0) return set;
  if (words.length < size) {
    set.add(words.join(' '));
    return set;
  }
  for (let index = 0; index + size <= words.length; index += 1) set.add(words.slice(index, index + size).join(' '));
  return set;
}

export function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 && b.size === 0) return 1;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let shared = 0;
  for (const shingle of small) if (large.has(shingle)) shared += 1;
  return shared / (a.size + b.size - shared);
}

/**
 * Containment of `a` in `b`: the share of a's shingles found in b. Used against the context, where a retrieved chunk
 * may sit inside a much longer tool result (Jaccard would be small there even for an exact copy).
 */
export function containment(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0) return 1;
  let shared = 0;
  for (const shingle of a) if (b.has(shingle)) shared += 1;
  return shared / a.size;
}

export interface DedupDecision {
  readonly index: number;
  readonly duplicate: boolean;
  readonly similarity: number;
  /** 'context' when the document is already in context, otherwise the index of the earlier document it repeats. */
  readonly of?: 'context' | number;
}

export function deduplicate(documents: readonly string[], contextTexts: readonly string[], options: DedupOptions = {}): DedupDecision[] {
  const threshold = options.threshold ?? 0.8;
  const size = options.shingleSize ?? 3;
  const contextSets = contextTexts.map((text) => shingles(text, size));
  const kept: { index: number; set: Set<string> }[] = [];
  return documents.map((document, index) => {
    const set = shingles(document, size);
    for (const context of contextSets) {
      const similarity = Math.max(jaccard(set, context), containment(set, context));
      if (similarity >= threshold) return { index, duplicate: true, similarity, of: 'context' as const };
    }
    for (const earlier of kept) {
      const similarity = jaccard(set, earlier.set);
      if (similarity >= threshold) return { index, duplicate: true, similarity, of: earlier.index };
    }
    kept.push({ index, set });
    return { index, duplicate: false, similarity: 0 };
  });
}
