/**
 * The shapes of Keel's memory: embedders turn text into vectors, vector indexes find the nearest ones, and memory
 * records are the natural-language observations, reflections and facts an agent keeps. They are spec types (the
 * ports in src/spec/), re-exported here so that memory code imports them from one place.
 */

export type { Embedder, VectorFilter, VectorIndex, VectorItem, VectorMatch, VectorMetadata } from '../spec/vector.ts';

export type { MemoryKind, MemoryScope, MemoryRecord, RetrievalWeights } from '../spec/memory-store.ts';
