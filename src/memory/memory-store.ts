import { KeelError } from '../errors/index.ts';
import { createId } from '../util/index.ts';
import type { Embedder, MemoryKind, MemoryRecord, MemoryScope, VectorFilter, VectorIndex } from './memory-types.ts';
import { scoreMemories } from './retrieval-score.ts';
import type { MemoryListOptions, MemoryStore, RecallInput, RememberInput, ScoredMemory, SequencedMemory } from '../spec/memory-store.ts';
import { migrate, openOwnedDatabase, toStorageFailure } from './sqlite-migrations.ts';
import type { SqliteDatabase } from './sqlite-migrations.ts';

export interface MemoryStoreOptions {
  readonly database?: SqliteDatabase;
  readonly path?: string;
  readonly embedder: Embedder;
  /** Holds one vector per memory, with `{ agent, sessionId?, kind }` as metadata. Closed with the store. */
  readonly index: VectorIndex;
  /** Rates a memory's importance 1–10 when the writer gives none, e.g. a model call (`importancePrompt`, `parseImportance`). Without it the default is 5. */
  readonly rateImportance?: (text: string, signal?: AbortSignal) => Promise<number>;
  readonly clock?: { now(): number };
  /** How many nearest memories a recall scores. Defaults to `max(50, 5·k)`. */
  readonly candidatePool?: number;
  readonly recencyDecay?: number;
}

export type { RememberInput, RecallInput, SequencedMemory, MemoryListOptions, MemoryStore } from '../spec/memory-store.ts';

/** The SQLite memory store: the port, plus the database it lives in (shared with a sqlite-vec index, backups). */
export interface SqliteMemoryStore extends MemoryStore {
  readonly database: SqliteDatabase;
}

const memoryMigrations = [
  {
    version: 1,
    name: 'memories and reflection state',
    sql: `CREATE TABLE memories (
            sequence INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            agent TEXT NOT NULL,
            session_id TEXT,
            kind TEXT NOT NULL,
            text TEXT NOT NULL,
            importance REAL NOT NULL,
            created_at INTEGER NOT NULL,
            last_accessed_at INTEGER NOT NULL,
            sources TEXT
          );
          CREATE INDEX memories_by_scope ON memories (agent, session_id, sequence);
          CREATE TABLE memory_reflection_state (
            agent TEXT NOT NULL,
            session_key TEXT NOT NULL,
            last_sequence INTEGER NOT NULL,
            PRIMARY KEY (agent, session_key)
          ) WITHOUT ROWID;`,
  },
  {
    version: 2,
    name: 'the embedder the vectors came from',
    sql: `CREATE TABLE memory_settings (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;`,
  },
];

/**
 * Vectors of two embedders are not comparable, so a store remembers which embedder wrote it and refuses another: a
 * switch would otherwise mix spaces silently and make recall return noise. A store from before this record adopts
 * the embedder it is opened with.
 */
function checkEmbedder(database: SqliteDatabase, embedder: Embedder): void {
  const recorded = database.prepare<[], string>(`SELECT value FROM memory_settings WHERE name = 'embedder'`).pluck().get();
  if (recorded === undefined) {
    database.prepare(`INSERT INTO memory_settings (name, value) VALUES ('embedder', ?)`).run(embedder.id);
    return;
  }
  if (recorded !== embedder.id) {
    throw new KeelError(
      'invalid-config',
      `This memory store holds vectors of the embedder "${recorded}", but it was opened with "${embedder.id}"; their vectors cannot be compared. Open it with "${recorded}", or re-embed into a new store.`,
    );
  }
}

interface MemoryRow {
  sequence: number;
  id: string;
  agent: string;
  session_id: string | null;
  kind: MemoryKind;
  text: string;
  importance: number;
  created_at: number;
  last_accessed_at: number;
  sources: string | null;
}

/**
 * Episodic (per session) and semantic (per agent) memory: records in SQLite, their embeddings in a VectorIndex.
 * Recall asks the index for a pool of the nearest memories in scope, then ranks that pool with the Park et al. score.
 * @example
 * ```ts
 * const embedder = createHashingEmbedder();
 * const memory = createMemoryStore({
 *   path: '.keel/memory.db',
 *   embedder,
 *   index: createSqliteVecIndex({ path: '.keel/memory-vectors.db', dimensions: embedder.dimensions }),
 * });
 * await memory.remember({ scope: { agent: 'ops' }, text: 'The Orion backup runs at 02:00 UTC.', importance: 6 });
 * const [best] = await memory.recall({ scope: { agent: 'ops' }, query: 'When does the backup run?', k: 3 });
 * ```
 */
export function createMemoryStore(options: MemoryStoreOptions): SqliteMemoryStore {
  const { embedder, index } = options;
  if (embedder.dimensions !== index.dimensions) {
    throw new KeelError('invalid-config', `The embedder makes ${embedder.dimensions}-dimensional vectors but the index holds ${index.dimensions}.`);
  }
  const { database, owned } = openOwnedDatabase(options, 'the memory store');
  migrate(database, 'memory', memoryMigrations);
  try {
    checkEmbedder(database, embedder);
  } catch (error) {
    if (owned) database.close();
    throw error instanceof KeelError ? error : toStorageFailure(error, 'reading the memory store\'s embedder');
  }
  const clock = options.clock ?? { now: () => Date.now() };
  const insert = database.prepare(
    `INSERT INTO memories (id, agent, session_id, kind, text, importance, created_at, last_accessed_at, sources) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const removeRow = database.prepare('DELETE FROM memories WHERE id = ?');
  const touch = database.prepare('UPDATE memories SET last_accessed_at = ? WHERE id = ?');
  const readReflectionMark = database.prepare<[string, string], number>('SELECT last_sequence FROM memory_reflection_state WHERE agent = ? AND session_key = ?').pluck();
  const writeReflectionMark = database.prepare(
    `INSERT INTO memory_reflection_state (agent, session_key, last_sequence) VALUES (?, ?, ?)
     ON CONFLICT (agent, session_key) DO UPDATE SET last_sequence = excluded.last_sequence`,
  );

  function run<T>(action: string, body: () => T): T {
    try {
      return body();
    } catch (error) {
      throw toStorageFailure(error, `${action} in the memory store`);
    }
  }

  function get(ids: readonly string[]): MemoryRecord[] {
    if (ids.length === 0) return [];
    const rows = run('reading memories', () =>
      database.prepare(`SELECT * FROM memories WHERE id IN (SELECT value FROM json_each(?))`).all(JSON.stringify(ids)) as MemoryRow[],
    );
    const byId = new Map(rows.map((row) => [row.id, toRecord(row)]));
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
    database,
    embedder,
    async remember(input: RememberInput): Promise<MemoryRecord> {
      checkScope(input.scope);
      if (typeof input.text !== 'string' || input.text.trim() === '') throw new KeelError('invalid-argument', 'A memory needs non-empty text.');
      if (input.id !== undefined) {
        if (!/^[A-Za-z0-9_.:-]{1,200}$/.test(input.id)) throw new KeelError('invalid-argument', `A memory id must be 1–200 letters, digits or _.:-, got ${JSON.stringify(input.id)}.`);
        const [existing] = get([input.id]);
        if (existing !== undefined) return existing;
      }
      const importance = await resolveImportance(input);
      const [vector] = await embedder.embed([input.text], input.signal);
      const now = clock.now();
      const record: MemoryRecord = {
        id: input.id ?? createId('mem', now),
        scope: input.scope.sessionId === undefined ? { agent: input.scope.agent } : { agent: input.scope.agent, sessionId: input.scope.sessionId },
        kind: input.kind ?? 'observation',
        text: input.text,
        importance,
        createdAt: now,
        lastAccessedAt: now,
        ...(input.sources === undefined ? {} : { sources: [...input.sources] }),
      };
      run('storing a memory', () =>
        insert.run(record.id, record.scope.agent, record.scope.sessionId ?? null, record.kind, record.text, importance, now, now, record.sources === undefined ? null : JSON.stringify(record.sources)),
      );
      try {
        await index.upsert([{ id: record.id, vector: vector as Float32Array, metadata: { ...scopeFilter(record.scope), kind: record.kind } }]);
      } catch (error) {
        run('undoing a memory', () => removeRow.run(record.id));
        throw error;
      }
      return record;
    },
    async recall(input: RecallInput): Promise<ScoredMemory[]> {
      checkScope(input.scope);
      const k = input.k ?? 5;
      if (!(Number.isInteger(k) && k > 0)) throw new KeelError('invalid-argument', `k must be a positive integer, got ${k}.`);
      const pool = options.candidatePool ?? Math.max(50, 5 * k);
      const [vector] = await embedder.embed([input.query], input.signal);
      const filter: VectorFilter = scopeFilter(input.scope);
      const kinds = input.kinds === undefined ? undefined : new Set(input.kinds);
      const matches = (await index.search(vector as Float32Array, pool, filter)).filter((match) => kinds === undefined || kinds.has(match.metadata.kind as MemoryKind));
      const records = new Map(get(matches.map((match) => match.id)).map((record) => [record.id, record]));
      const candidates = matches.flatMap((match) => {
        const record = records.get(match.id);
        return record === undefined ? [] : [{ record, relevance: match.score }];
      });
      const now = clock.now();
      const best = scoreMemories(candidates, { now, ...(input.weights === undefined ? {} : { weights: input.weights }), ...(options.recencyDecay === undefined ? {} : { recencyDecay: options.recencyDecay }) }).slice(0, k);
      run('marking memories accessed', () => database.transaction(() => best.forEach((entry) => touch.run(now, entry.record.id)))());
      return best;
    },
    get,
    list(scope: MemoryScope, listOptions: MemoryListOptions = {}): SequencedMemory[] {
      checkScope(scope);
      const rows = run('listing memories', () =>
        database
          .prepare(
            `SELECT * FROM memories WHERE agent = ? AND (? IS NULL OR session_id = ?) AND sequence > ? ORDER BY sequence LIMIT ?`,
          )
          .all(scope.agent, scope.sessionId ?? null, scope.sessionId ?? null, listOptions.afterSequence ?? 0, listOptions.limit ?? -1) as MemoryRow[],
      );
      return rows.map((row) => ({ ...toRecord(row), sequence: row.sequence }));
    },
    reflectedThrough(scope: MemoryScope): number {
      checkScope(scope);
      return run('reading the reflection state', () => readReflectionMark.get(scope.agent, scope.sessionId ?? '') ?? 0);
    },
    markReflected(scope: MemoryScope, sequence: number): void {
      checkScope(scope);
      if (!(Number.isInteger(sequence) && sequence >= 0)) throw new KeelError('invalid-argument', `A reflection mark must be a memory sequence number (an integer of 0 or more), got ${sequence}.`);
      run('saving the reflection state', () => writeReflectionMark.run(scope.agent, scope.sessionId ?? '', sequence));
    },
    async close(): Promise<void> {
      await index.close();
      if (owned && database.open) database.close();
    },
  };
}

export function scopeFilter(scope: MemoryScope): { agent: string; sessionId?: string } {
  return scope.sessionId === undefined ? { agent: scope.agent } : { agent: scope.agent, sessionId: scope.sessionId };
}

function checkScope(scope: MemoryScope): void {
  if (typeof scope?.agent !== 'string' || scope.agent === '') throw new KeelError('invalid-argument', 'A memory scope needs an agent.');
  if (scope.sessionId !== undefined && (typeof scope.sessionId !== 'string' || scope.sessionId === '')) {
    throw new KeelError('invalid-argument', 'A memory scope’s sessionId, when given, must be a non-empty string.');
  }
}

export function checkImportance(value: number, name: string): void {
  if (!(Number.isFinite(value) && value >= 1 && value <= 10)) throw new KeelError('invalid-argument', `${name} must be a number from 1 to 10, got ${value}.`);
}

function toRecord(row: MemoryRow): MemoryRecord {
  return {
    id: row.id,
    scope: row.session_id === null ? { agent: row.agent } : { agent: row.agent, sessionId: row.session_id },
    kind: row.kind,
    text: row.text,
    importance: row.importance,
    createdAt: row.created_at,
    lastAccessedAt: row.last_accessed_at,
    ...(row.sources === null ? {} : { sources: JSON.parse(row.sources) as string[] }),
  };
}

/** The importance prompt of Park et al., for a `rateImportance` that asks a model. */
export function importancePrompt(text: string): string {
  return (
    'On the scale of 1 to 10, where 1 is purely mundane (e.g., brushing teeth, making bed) and 10 is extremely poignant ' +
    '(e.g., a break up, college acceptance), rate the likely poignancy of the following piece of memory.\n' +
    `Memory: ${text}\nAnswer with one integer from 1 to 10.\nRating:`
  );
}

/** The first integer 1–10 in a model's answer, or undefined. */
export function parseImportance(answer: string): number | undefined {
  const match = /\b(10|[1-9])\b/.exec(answer);
  return match === null ? undefined : Number(match[1]);
}
