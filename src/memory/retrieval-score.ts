import { KeelError } from '../errors/index.ts';
import type { MemoryRecord, RetrievalWeights } from './memory-types.ts';
import type { ScoreComponents, ScoredMemory } from '../spec/memory-store.ts';

export type { ScoreComponents, ScoredMemory } from '../spec/memory-store.ts';

export const defaultRetrievalWeights: RetrievalWeights = { recency: 1, importance: 1, relevance: 1 };
/** Park et al.: recency decays by this factor per hour since the memory was last accessed. */
export const defaultRecencyDecay = 0.995;

export interface RetrievalCandidate<Record extends MemoryRecord = MemoryRecord> {
  readonly record: Record;
  /** Cosine similarity of the memory to the query. */
  readonly relevance: number;
}

export interface ScoreOptions {
  /** Milliseconds since the Unix epoch. */
  readonly now: number;
  readonly weights?: Partial<RetrievalWeights>;
  /** Per hour since last access; defaults to 0.995. */
  readonly recencyDecay?: number;
}

/**
 * The retrieval function of Park et al. (2023): each candidate's recency (exponential decay since last access),
 * importance (1–10, divided by 10) and relevance (cosine) are min-max normalized across the candidate set, then
 * combined as `α·recency + β·importance + γ·relevance`. A component equal for every candidate normalizes to 0.5, as in
 * the paper's code. Returns the candidates best first; ties keep the input order.
 */
export function scoreMemories<Record extends MemoryRecord>(candidates: readonly RetrievalCandidate<Record>[], options: ScoreOptions): ScoredMemory<Record>[] {
  const weights = resolveWeights(options.weights);
  const decay = options.recencyDecay ?? defaultRecencyDecay;
  if (!(decay > 0 && decay <= 1)) throw new KeelError('invalid-argument', `recencyDecay must be in (0, 1], got ${decay}.`);
  const raw = candidates.map(({ record, relevance }) => ({
    recency: decay ** (Math.max(0, options.now - record.lastAccessedAt) / 3_600_000),
    importance: record.importance / 10,
    relevance,
  }));
  const recency = minMax(raw.map((entry) => entry.recency));
  const importance = minMax(raw.map((entry) => entry.importance));
  const relevance = minMax(raw.map((entry) => entry.relevance));
  const scored = candidates.map((candidate, index) => {
    const components = { recency: recency[index] as number, importance: importance[index] as number, relevance: relevance[index] as number };
    return {
      record: candidate.record,
      score: weights.recency * components.recency + weights.importance * components.importance + weights.relevance * components.relevance,
      components,
      raw: raw[index] as ScoreComponents,
    };
  });
  return scored.map((entry, index) => ({ entry, index })).sort((a, b) => b.entry.score - a.entry.score || a.index - b.index).map(({ entry }) => entry);
}

export function resolveWeights(weights: Partial<RetrievalWeights> | undefined): RetrievalWeights {
  const resolved = { ...defaultRetrievalWeights, ...weights };
  for (const [name, value] of Object.entries(resolved)) {
    if (!(Number.isFinite(value) && value >= 0)) throw new KeelError('invalid-argument', `The ${name} weight must be a finite number ≥ 0, got ${value}.`);
  }
  return resolved;
}

/** Scales values to [0, 1]; when they are all equal, each becomes 0.5. */
export function minMax(values: readonly number[]): number[] {
  if (values.length === 0) return [];
  const min = Math.min(...values);
  const max = Math.max(...values);
  const range = max - min;
  return values.map((value) => (range === 0 ? 0.5 : (value - min) / range));
}
