/**
 * The shapes of Keel's memory (DESIGN.md §2, seed §5.3): embedders turn text into vectors, vector indexes find the
 * nearest ones, and memory records are the natural-language observations, reflections and facts an agent keeps.
 */

export type { Embedder, VectorFilter, VectorIndex, VectorItem, VectorMatch, VectorMetadata } from '../spec/vector.ts';

export type { MemoryKind, MemoryScope, MemoryRecord, RetrievalWeights } from '../spec/memory-store.ts';
