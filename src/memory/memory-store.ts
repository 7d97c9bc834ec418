import { KeelError } from '../errors/index.ts';
import type { Embedder, MemoryKind, MemoryRecord, VectorIndex } from './memory-types.ts';
import type { MemoryStore } from '../spec/memory-store.ts';
import { checkDimensions, createMemoryStoreCore, embedderMismatch } from './memory-store-core.ts';
import type { MemoryRecordTable } from './memory-store-core.ts';
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

export type { RememberInput, RecallInput, SequencedMemory, MemoryListOptions, MarkReflectedOptions, MemoryStore } from '../spec/memory-store.ts';
export { checkImportance, scopeFilter } from './memory-store-core.ts';

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
  if (recorded !== embedder.id) throw embedderMismatch(recorded, embedder.id);
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
  checkDimensions(embedder, index);
  const { database, owned } = openOwnedDatabase(options, 'the memory store');
  migrate(database, 'memory', memoryMigrations);
  try {
    checkEmbedder(database, embedder);
  } catch (error) {
    if (owned) database.close();
    throw error instanceof KeelError ? error : toStorageFailure(error, 'reading the memory store\'s embedder');
  }
  const core = createMemoryStoreCore({
    embedder,
    index,
    records: sqliteRecordTable(database, owned),
    ...(options.rateImportance === undefined ? {} : { rateImportance: options.rateImportance }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.candidatePool === undefined ? {} : { candidatePool: options.candidatePool }),
    ...(options.recencyDecay === undefined ? {} : { recencyDecay: options.recencyDecay }),
  });
  return { ...core, database };
}

/** The records in SQLite. Each statement is synchronous underneath; the table answers through promises like any backend. */
function sqliteRecordTable(database: SqliteDatabase, owned: boolean): MemoryRecordTable {
  const insert = database.prepare(
    `INSERT INTO memories (id, agent, session_id, kind, text, importance, created_at, last_accessed_at, sources) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO NOTHING`,
  );
  const readOne = database.prepare<[string], MemoryRow>('SELECT * FROM memories WHERE id = ?');
  const removeRow = database.prepare('DELETE FROM memories WHERE id = ?');
  const touch = database.prepare('UPDATE memories SET last_accessed_at = ? WHERE id = ?');
  const readReflectionMark = database.prepare<[string, string], number>('SELECT last_sequence FROM memory_reflection_state WHERE agent = ? AND session_key = ?').pluck();
  const writeReflectionMark = database.prepare(
    `INSERT INTO memory_reflection_state (agent, session_key, last_sequence) VALUES (?, ?, ?)
     ON CONFLICT (agent, session_key) DO UPDATE SET last_sequence = excluded.last_sequence`,
  );
  // Compare-and-set in one statement: from no mark (0) the row may be missing, from any other mark it must hold it.
  const moveReflectionMarkFromNone = database.prepare(
    `INSERT INTO memory_reflection_state (agent, session_key, last_sequence) VALUES (?, ?, ?)
     ON CONFLICT (agent, session_key) DO UPDATE SET last_sequence = excluded.last_sequence WHERE memory_reflection_state.last_sequence = 0`,
  );
  const moveReflectionMark = database.prepare('UPDATE memory_reflection_state SET last_sequence = ? WHERE agent = ? AND session_key = ? AND last_sequence = ?');
  const listRows = database.prepare<[string, string | null, string | null, number, number], MemoryRow>(
    `SELECT * FROM memories WHERE agent = ? AND (? IS NULL OR session_id = ?) AND sequence > ? ORDER BY sequence LIMIT ?`,
  );

  async function run<T>(action: string, body: () => T): Promise<T> {
    try {
      return body();
    } catch (error) {
      throw toStorageFailure(error, `${action} in the memory store`);
    }
  }

  return {
    read: (ids) =>
      run('reading memories', () =>
        (database.prepare(`SELECT * FROM memories WHERE id IN (SELECT value FROM json_each(?))`).all(JSON.stringify(ids)) as MemoryRow[]).map(toRecord),
      ),
    insert: (record) =>
      run('storing a memory', () => {
        const sources = record.sources === undefined ? null : JSON.stringify(record.sources);
        const { changes } = insert.run(record.id, record.scope.agent, record.scope.sessionId ?? null, record.kind, record.text, record.importance, record.createdAt, record.lastAccessedAt, sources);
        if (changes === 1) return record;
        return toRecord(readOne.get(record.id) as MemoryRow);
      }),
    remove: (id) => run('undoing a memory', () => void removeRow.run(id)),
    touch: (ids, now) => run('marking memories accessed', () => database.transaction(() => ids.forEach((id) => touch.run(now, id)))()),
    list: (scope, listOptions) =>
      run('listing memories', () =>
        listRows
          .all(scope.agent, scope.sessionId ?? null, scope.sessionId ?? null, listOptions.afterSequence ?? 0, listOptions.limit ?? -1)
          .map((row) => ({ ...toRecord(row), sequence: row.sequence })),
      ),
    reflectedThrough: (scope) => run('reading the reflection state', () => readReflectionMark.get(scope.agent, scope.sessionId ?? '') ?? 0),
    markReflected: (scope, sequence, expected) =>
      run('saving the reflection state', () => {
        const sessionKey = scope.sessionId ?? '';
        if (expected === undefined) {
          writeReflectionMark.run(scope.agent, sessionKey, sequence);
          return true;
        }
        if (expected === 0) return moveReflectionMarkFromNone.run(scope.agent, sessionKey, sequence).changes === 1;
        return moveReflectionMark.run(sequence, scope.agent, sessionKey, expected).changes === 1;
      }),
    async close() {
      if (owned && database.open) database.close();
    },
  };
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
