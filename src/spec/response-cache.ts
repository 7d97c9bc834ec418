import type { ModelResponse } from './model.ts';

/** A model response kept by the response cache, with the account that answered it. */
export interface CachedModelResponse {
  readonly response: ModelResponse;
  readonly account?: string;
  /** Epoch milliseconds of the store. */
  readonly storedAt: number;
}

/**
 * Where the response cache keeps answers, keyed by the canonical hash of the full request and the model that
 * answers it. Backends: in process (`createMemoryResponseCache`), SQLite (`createSqliteResponseCache`).
 */
export interface ResponseCacheStore {
  /** The entry, or undefined when absent or past its time to live. */
  get(key: string): Promise<CachedModelResponse | undefined>;
  set(key: string, value: CachedModelResponse, ttlMs: number): Promise<void>;
  close?(): Promise<void>;
}
