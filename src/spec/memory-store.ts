// The memory store port: what the loop, the memory tools and reflection need from a store of an agent's memories.
// Backends: SQLite (src/memory/memory-store.ts) and PostgreSQL (src/memory/postgres-memory-store.ts); another
// backend implements this interface alone and passes describeMemoryStoreContract. Every read is asynchronous, since a
// shared backend answers over the network.
import type { Embedder } from './vector.ts';

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

export interface ScoreComponents {
  readonly recency: number;
  readonly importance: number;
  readonly relevance: number;
}

export interface ScoredMemory<Record extends MemoryRecord = MemoryRecord> {
  readonly record: Record;
  /** `α·recency + β·importance + γ·relevance` over the normalized components. */
  readonly score: number;
  /** Each component min-max normalized to [0, 1] across the candidates. */
  readonly components: ScoreComponents;
  /** Before normalization: `decay^hours`, `importance / 10`, cosine. */
  readonly raw: ScoreComponents;
}

export interface RememberInput {
  readonly scope: MemoryScope;
  readonly text: string;
  /** 1–10, given by the writer; otherwise rated by the store's `rateImportance`, otherwise 5. */
  readonly importance?: number;
  readonly kind?: MemoryKind;
  readonly sources?: readonly string[];
  /**
   * A caller-chosen id makes the write idempotent: when a memory with this id exists, it is returned as it is and
   * nothing is embedded or stored again (a resumed session repeating a write).
   */
  readonly id?: string;
  readonly signal?: AbortSignal;
}

export interface RecallInput {
  /** With a `sessionId`, that session's memories only; without, every memory of the agent. */
  readonly scope: MemoryScope;
  readonly query: string;
  /** Defaults to 5. */
  readonly k?: number;
  readonly weights?: Partial<RetrievalWeights>;
  readonly kinds?: readonly MemoryKind[];
  readonly signal?: AbortSignal;
}

/** A stored memory and its insertion order in the store. */
export type SequencedMemory = MemoryRecord & { readonly sequence: number };

export interface MemoryListOptions {
  /** Only memories stored after this sequence number. */
  readonly afterSequence?: number;
  readonly limit?: number;
}

export interface MemoryStore {
  readonly embedder: Embedder;
  remember(input: RememberInput): Promise<MemoryRecord>;
  /** Nearest memories by vector, re-ranked by `α·recency + β·importance + γ·relevance`; marks the returned ones accessed. */
  recall(input: RecallInput): Promise<ScoredMemory[]>;
  /** The memories with these ids, in the order asked; unknown ids are left out. */
  get(ids: readonly string[]): Promise<MemoryRecord[]>;
  /** Memories in the scope in insertion order, after `afterSequence` when given. */
  list(scope: MemoryScope, options?: MemoryListOptions): Promise<SequencedMemory[]>;
  /**
   * The sequence of the last memory reflection has covered in the scope (0 when none). Kept by the store beside the
   * memories, so reflection resumes where it stopped after a restart and never reflects on the same memories twice.
   */
  reflectedThrough(scope: MemoryScope): Promise<number>;
  /**
   * Moves the scope's reflection mark to `sequence`. With `expected`, only when the mark is still there (an atomic
   * compare-and-set), so of two processes reflecting the same memories at once one keeps its insights. Resolves
   * false when `expected` did not match and nothing changed, else true.
   */
  markReflected(scope: MemoryScope, sequence: number, options?: MarkReflectedOptions): Promise<boolean>;
  close(): Promise<void>;
}

export interface MarkReflectedOptions {
  /** The mark the caller read (`reflectedThrough`, 0 when none) and reflected after. */
  readonly expected?: number;
}
