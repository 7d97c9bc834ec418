/**
 * The shapes of Keel's memory (DESIGN.md §2, seed §5.3): embedders turn text into vectors, vector indexes find the
 * nearest ones, and memory records are the natural-language observations, reflections and facts an agent keeps.
 */

export type { Embedder, VectorFilter, VectorIndex, VectorItem, VectorMatch, VectorMetadata } from '../spec/vector.ts';

export type MemoryKind = 'observation' | 'reflection' | 'fact' | 'tool-result';

/** Whose memory: an agent's, and within it optionally one session's (episodic). */
export interface MemoryScope {
  readonly agent: string;
  readonly sessionId?: string;
}

export interface MemoryRecord {
  readonly id: string;
  readonly scope: MemoryScope;
  readonly kind: MemoryKind;
  readonly text: string;
  /** 1 (mundane) to 10 (poignant), as in Park et al. */
  readonly importance: number;
  /** Milliseconds since the Unix epoch. */
  readonly createdAt: number;
  readonly lastAccessedAt: number;
  /** The memories a reflection was drawn from. */
  readonly sources?: readonly string[];
}

/** Weights of `α·recency + β·importance + γ·relevance`. */
export interface RetrievalWeights {
  readonly recency: number;
  readonly importance: number;
  readonly relevance: number;
}
