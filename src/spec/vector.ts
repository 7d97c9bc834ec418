// Embeddings and vector search; implementations in src/memory/.

/** Turns texts into fixed-length vectors. Implementations: OpenAI-compatible embeddings API, offline feature hashing. */
export interface Embedder {
  /** Names the embedder and its configuration, e.g. `openai:text-embedding-3-small@1536`; vectors from different ids are not comparable. */
  readonly id: string;
  readonly dimensions: number;
  /** One vector per text, in order, each of length `dimensions`. */
  embed(texts: readonly string[], signal?: AbortSignal): Promise<Float32Array[]>;
}

/** Flat metadata kept beside a vector; filters match its fields by equality. */
export type VectorMetadata = Readonly<Record<string, string | number | boolean>>;

export interface VectorItem {
  readonly id: string;
  readonly vector: ArrayLike<number>;
  readonly metadata?: VectorMetadata;
}

export interface VectorMatch {
  readonly id: string;
  /** Cosine similarity in [-1, 1]; higher is nearer. */
  readonly score: number;
  readonly metadata: VectorMetadata;
}

/** Items whose metadata has every one of these fields with exactly this value. */
export type VectorFilter = VectorMetadata;

/**
 * A store of vectors searched by cosine similarity. Every backend (exact scan, sqlite-vec, pgvector) passes
 * `describeVectorIndexContract`: results are exact (the same as brute force), best first, with exact scores. One
 * documented exception: sqlite-vec's default `search: 'quantized'` above `exactUpTo` items (10,000) finds candidates
 * by binary codes and re-scores them exactly, trading recall (0.986 recall@10 on clustered data) for speed.
 */
export interface VectorIndex {
  readonly dimensions: number;
  /** Inserts, or replaces the vector and metadata of an existing id. A vector of the wrong length fails with `invalid-argument`. */
  upsert(items: readonly VectorItem[]): Promise<void>;
  /** The `k` nearest items to `vector` among those matching `filter`, best first. */
  search(vector: ArrayLike<number>, k: number, filter?: VectorFilter): Promise<VectorMatch[]>;
  /** Removes these ids; unknown ids are ignored. */
  delete(ids: readonly string[]): Promise<void>;
  count(): Promise<number>;
  close(): Promise<void>;
}
