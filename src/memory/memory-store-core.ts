import { KeelError } from '../errors/index.ts';
import { createId } from '../util/index.ts';
import type { Embedder, MemoryKind, MemoryRecord, MemoryScope, VectorFilter, VectorIndex } from './memory-types.ts';
import { scoreMemories } from './retrieval-score.ts';
import type { MarkReflectedOptions, MemoryListOptions, MemoryStore, RecallInput, RememberInput, ScoredMemory, SequencedMemory } from '../spec/memory-store.ts';

/**
 * Where a memory store keeps its records (not their vectors): one implementation per database. The rules every
 * backend shares (validation, idempotent ids, importance, the recall pipeline and its ranking) live in
 * `createMemoryStoreCore`, so the same data ranks the same on SQLite and PostgreSQL.
 */
export interface MemoryRecordTable {
  /** The records with these ids, in any order; unknown ids are left out. */
  read(ids: readonly string[]): Promise<MemoryRecord[]>;
  /** Stores the record; when its id is taken, stores nothing and returns the record already stored. */
  insert(record: MemoryRecord): Promise<MemoryRecord>;
  remove(id: string): Promise<void>;
  /** Sets `lastAccessedAt` of these records to `now`. */
  touch(ids: readonly string[], now: number): Promise<void>;
  list(scope: MemoryScope, options: MemoryListOptions): Promise<SequencedMemory[]>;
  reflectedThrough(scope: MemoryScope): Promise<number>;
  /** Sets the mark; with `expected`, only when the mark is at it (0: no mark yet). True when it was set. */
  markReflected(scope: MemoryScope, sequence: number, expected?: number): Promise<boolean>;
  /** Releases what the table owns (not the vector index, which the core closes). */
  close(): Promise<void>;
}

export interface MemoryStoreCoreOptions {
  readonly embedder: Embedder;
  readonly index: VectorIndex;
  readonly records: MemoryRecordTable;
  readonly rateImportance?: (text: string, signal?: AbortSignal) => Promise<number>;
  readonly clock?: { now(): number };
  readonly candidatePool?: number;
  readonly recencyDecay?: number;
}

const memoryIdPattern = /^[A-Za-z0-9_.:-]{1,200}$/;
/** The most memories one recall returns; it scores a pool of five times as many. */
const maxRecall = 1_000;

/** The MemoryStore port over a record table and a vector index. */
export function createMemoryStoreCore(options: MemoryStoreCoreOptions): MemoryStore {
  const { embedder, index, records } = options;
  const clock = options.clock ?? { now: () => Date.now() };
  let closed = false;
  function ensureOpen(): void {
    if (closed) throw new KeelError('storage-failure', 'The memory store is closed; open a new one.', { retryable: false });
  }

  async function get(ids: readonly string[]): Promise<MemoryRecord[]> {
    ensureOpen();
    if (ids.length === 0) return [];
    const byId = new Map((await records.read([...new Set(ids)])).map((record) => [record.id, record]));
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  async function resolveImportance(input: RememberInput): Promise<number> {
    if (input.importance !== undefined) {
      checkImportance(input.importance, 'importance');
      return input.importance;
    }
    if (options.rateImportance === undefined) return 5;
    const rated = await options.rateImportance(input.text, input.signal);
    if (!Number.isFinite(rated)) return 5;
    return Math.min(10, Math.max(1, Math.round(rated)));
  }

  return {
    embedder,
    async remember(input: RememberInput): Promise<MemoryRecord> {
      ensureOpen();
      checkScope(input.scope);
      if (typeof input.text !== 'string' || input.text.trim() === '') throw new KeelError('invalid-argument', 'A memory needs non-empty text.');
      if (input.sources !== undefined) {
        for (const source of input.sources) {
          if (typeof source !== 'string' || !memoryIdPattern.test(source)) throw new KeelError('invalid-argument', `A memory's sources must be memory ids (1–200 letters, digits or _.:-), got ${JSON.stringify(String(source).slice(0, 210))}.`);
        }
      }
      if (input.id !== undefined) {
        if (!memoryIdPattern.test(input.id)) throw new KeelError('invalid-argument', `A memory id must be 1–200 letters, digits or _.:-, got ${JSON.stringify(input.id.slice(0, 210))}.`);
        const [existing] = await get([input.id]);
        if (existing !== undefined) return existing;
      }
      const importance = await resolveImportance(input);
      const [vector] = await embedder.embed([input.text], input.signal);
      const now = clock.now();
      const record: MemoryRecord = {
        id: input.id ?? createId('mem', now),
        scope: scopeFilter(input.scope),
        kind: input.kind ?? 'observation',
        text: input.text,
        importance,
        createdAt: now,
        lastAccessedAt: now,
        ...(input.sources === undefined ? {} : { sources: [...input.sources] }),
      };
      const stored = await records.insert(record);
      // Another writer (a resumed session in another process) stored this id first: its vector is its own.
      if (stored !== record) return stored;
      try {
        await index.upsert([{ id: record.id, vector: vector as Float32Array, metadata: { ...scopeFilter(record.scope), kind: record.kind } }]);
      } catch (error) {
        await records.remove(record.id);
        throw error;
      }
      return record;
    },
    async recall(input: RecallInput): Promise<ScoredMemory[]> {
      ensureOpen();
      checkScope(input.scope);
      const k = input.k ?? 5;
      if (!(Number.isInteger(k) && k > 0 && k <= maxRecall)) throw new KeelError('invalid-argument', `k must be an integer from 1 to ${maxRecall}, got ${k}.`);
      const pool = options.candidatePool ?? Math.max(50, 5 * k);
      const [vector] = await embedder.embed([input.query], input.signal);
      const filter: VectorFilter = scopeFilter(input.scope);
      const kinds = input.kinds === undefined ? undefined : new Set(input.kinds);
      const matches = (await index.search(vector as Float32Array, pool, filter)).filter((match) => kinds === undefined || kinds.has(match.metadata.kind as MemoryKind));
      const found = new Map((await get(matches.map((match) => match.id))).map((record) => [record.id, record]));
      // Indexes order equal distances differently; by id they tie the same way on every backend.
      const candidates = matches
        .flatMap((match) => {
          const record = found.get(match.id);
          return record === undefined ? [] : [{ record, relevance: match.score }];
        })
        .sort((a, b) => b.relevance - a.relevance || (a.record.id < b.record.id ? -1 : a.record.id > b.record.id ? 1 : 0));
      const now = clock.now();
      const scoring = { now, ...(input.weights === undefined ? {} : { weights: input.weights }), ...(options.recencyDecay === undefined ? {} : { recencyDecay: options.recencyDecay }) };
      const best = scoreMemories(candidates, scoring).slice(0, k);
      if (best.length > 0) await records.touch(best.map((entry) => entry.record.id), now);
      return best;
    },
    get,
    async list(scope: MemoryScope, listOptions: MemoryListOptions = {}): Promise<SequencedMemory[]> {
      ensureOpen();
      checkScope(scope);
      const { afterSequence, limit } = listOptions;
      if (afterSequence !== undefined && !(Number.isInteger(afterSequence) && afterSequence >= 0)) {
        throw new KeelError('invalid-argument', `afterSequence must be an integer of 0 or more, got ${afterSequence}.`);
      }
      if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new KeelError('invalid-argument', `limit must be a positive integer, got ${limit}.`);
      return records.list(scope, listOptions);
    },
    async reflectedThrough(scope: MemoryScope): Promise<number> {
      ensureOpen();
      checkScope(scope);
      return records.reflectedThrough(scope);
    },
    async markReflected(scope: MemoryScope, sequence: number, markOptions: MarkReflectedOptions = {}): Promise<boolean> {
      ensureOpen();
      checkScope(scope);
      checkMark(sequence, 'A reflection mark');
      if (markOptions.expected !== undefined) checkMark(markOptions.expected, 'The expected reflection mark');
      return records.markReflected(scope, sequence, markOptions.expected);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await index.close();
      await records.close();
    },
  };
}

/** The scope as vector metadata and as stored: `{ agent }` or `{ agent, sessionId }`, no other fields. */
export function scopeFilter(scope: MemoryScope): { agent: string; sessionId?: string } {
  return scope.sessionId === undefined ? { agent: scope.agent } : { agent: scope.agent, sessionId: scope.sessionId };
}

/** Longest agent name or session id of a scope: both are indexed, and an index row has a size limit. */
const maxScopeLength = 512;
// A lone surrogate: text that is not well-formed UTF-16, which no UTF-8 database can store as given.
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function checkScope(scope: MemoryScope): void {
  if (typeof scope?.agent !== 'string' || scope.agent === '') throw new KeelError('invalid-argument', 'A memory scope needs an agent.');
  checkScopePart(scope.agent, 'agent');
  if (scope.sessionId !== undefined) {
    if (typeof scope.sessionId !== 'string' || scope.sessionId === '') throw new KeelError('invalid-argument', 'A memory scope’s sessionId, when given, must be a non-empty string.');
    checkScopePart(scope.sessionId, 'sessionId');
  }
}

/** The same refusals on every backend, before any query: what one database could store and another not. */
function checkScopePart(value: string, name: string): void {
  if (value.length > maxScopeLength) throw new KeelError('invalid-argument', `A memory scope’s ${name} must be at most ${maxScopeLength} characters, got ${value.length}.`);
  if (value.includes('\u0000')) throw new KeelError('invalid-argument', `A memory scope’s ${name} may not contain the character U+0000.`);
  if (loneSurrogate.test(value)) throw new KeelError('invalid-argument', `A memory scope’s ${name} must be well-formed Unicode (it has an unpaired surrogate).`);
}

export function checkImportance(value: number, name: string): void {
  if (!(Number.isFinite(value) && value >= 1 && value <= 10)) throw new KeelError('invalid-argument', `${name} must be a number from 1 to 10, got ${value}.`);
}

/** Checked before a store opens: vectors of one length go into an index of another. */
export function checkDimensions(embedder: Embedder, index: VectorIndex): void {
  if (embedder.dimensions !== index.dimensions) {
    throw new KeelError('invalid-config', `The embedder makes ${embedder.dimensions}-dimensional vectors but the index holds ${index.dimensions}.`);
  }
}

/** The refusal when a store holds vectors of another embedder than the one it is opened with. */
export function embedderMismatch(recorded: string, given: string): KeelError {
  return new KeelError(
    'invalid-config',
    `This memory store holds vectors of the embedder "${recorded}", but it was opened with "${given}"; their vectors cannot be compared. Open it with "${recorded}", or re-embed into a new store.`,
  );
}

function checkMark(sequence: number, what: string): void {
  if (!(Number.isInteger(sequence) && sequence >= 0)) throw new KeelError('invalid-argument', `${what} must be a memory sequence number (an integer of 0 or more), got ${sequence}.`);
}
