import { KeelError } from '../errors/index.ts';
import type { Embedder, MemoryKind, MemoryRecord, MemoryScope, VectorIndex } from './memory-types.ts';
import type { MemoryStore, SequencedMemory } from '../spec/memory-store.ts';
import { checkDimensions, createMemoryStoreCore, embedderMismatch } from './memory-store-core.ts';
import type { MemoryRecordTable } from './memory-store-core.ts';
import { guardedMemoryQuery, migrateMemoryTables } from './postgres-memory-database.ts';
import type { MemoryMigration, MemorySqlExecutor, PostgresMemoryDatabase } from './postgres-memory-database.ts';
import { createPgvectorIndex } from './pgvector-index.ts';
import { createPostgresExactIndex } from './postgres-exact-index.ts';
import { migrationLockKey } from '../util/sql-migrations.ts';

/** Where a PostgreSQL memory store keeps vectors: pgvector's `vector` column, or `float8[]` scanned exactly in SQL. */
export type PostgresMemoryVectors = 'pgvector' | 'exact';

export interface PostgresMemoryStoreOptions {
  /** The database of the other PostgreSQL stores (`openPostgresDatabase`, `pgliteDatabase`, `store.database`); left open on close. */
  readonly database: PostgresMemoryDatabase;
  readonly embedder: Embedder;
  /**
   * Vectors elsewhere than the store's own table (closed with the store). Without it the store keeps them in the
   * database: with pgvector when the server offers it, else an exact scan in SQL.
   */
  readonly index?: VectorIndex;
  /** Forces the choice the first store of a database makes; a database already set up the other way is refused. */
  readonly vectors?: PostgresMemoryVectors;
  readonly rateImportance?: (text: string, signal?: AbortSignal) => Promise<number>;
  readonly clock?: { now(): number };
  /** How many nearest memories a recall scores. Defaults to `max(50, 5·k)`. */
  readonly candidatePool?: number;
  readonly recencyDecay?: number;
}

export interface PostgresMemoryStore extends MemoryStore {
  /** Resolves once the tables exist and the embedder is checked, with where the vectors are (`given`: the `index` option). */
  ready(): Promise<PostgresMemoryVectors | 'given'>;
}

export const postgresMemoryMigrations: readonly MemoryMigration[] = [
  {
    version: 1,
    name: 'memories, reflection state and settings',
    sql: `CREATE TABLE memories (
            sequence bigserial PRIMARY KEY,
            id text NOT NULL UNIQUE,
            agent text NOT NULL,
            session_id text,
            kind text NOT NULL,
            text bytea NOT NULL,
            importance double precision NOT NULL,
            created_at bigint NOT NULL,
            last_accessed_at bigint NOT NULL,
            sources jsonb
          );
          CREATE INDEX memories_by_scope ON memories (agent, session_id, sequence);
          CREATE TABLE memory_reflection_state (
            agent text NOT NULL,
            session_key text NOT NULL,
            last_sequence bigint NOT NULL,
            PRIMARY KEY (agent, session_key)
          );
          CREATE TABLE memory_settings (name text PRIMARY KEY, value text NOT NULL);`,
  },
];

const vectorTables: Readonly<Record<PostgresMemoryVectors, string>> = { pgvector: 'memory_vectors', exact: 'memory_vectors_exact' };
// Inserts of one agent's memories take this lock with the agent's hash, so sequences commit in order and reflection,
// which resumes after the last sequence it saw, never skips a memory committed late with a smaller sequence.
const insertLockClass = 0x6d656d;

interface MemoryRow {
  sequence: string | number;
  id: string;
  agent: string;
  session_id: string | null;
  kind: MemoryKind;
  text: Uint8Array;
  importance: number;
  created_at: string | number;
  last_accessed_at: string | number;
  sources: string | readonly string[] | null;
}

/**
 * Episodic and semantic memory in PostgreSQL, shared by every process on the database: records in `memories`,
 * vectors in the same database (pgvector where the server has it, an exact scan in SQL where not), the reflection
 * state beside them. Recall ranks exactly as the SQLite store does. Returns at once; tables are created on first use.
 * @example
 * ```ts
 * const store = await openPostgresStore({ url: process.env.KEEL_DATABASE_URL! });
 * const memory = createPostgresMemoryStore({ database: store.database, embedder: createHashingEmbedder() });
 * await memory.remember({ scope: { agent: 'ops' }, text: 'The Orion backup runs at 02:00 UTC.', importance: 6 });
 * ```
 */
export function createPostgresMemoryStore(options: PostgresMemoryStoreOptions): PostgresMemoryStore {
  const { database, embedder } = options;
  if (options.index !== undefined) checkDimensions(embedder, options.index);
  let preparing: Promise<{ vectors: PostgresMemoryVectors | 'given'; index: VectorIndex }> | undefined;
  // A failed start (the server down) is not remembered: the next operation tries again.
  const prepared = (): Promise<{ vectors: PostgresMemoryVectors | 'given'; index: VectorIndex }> => {
    preparing ??= prepare(options).catch((error: unknown) => {
      preparing = undefined;
      throw error;
    });
    return preparing;
  };
  let closed = false;
  const ensureOpen = (): void => {
    if (closed) throw new KeelError('storage-failure', `The memory store on the ${database.description} is closed.`, { retryable: false });
  };
  const records = postgresRecordTable(database, async () => {
    ensureOpen();
    await prepared();
  });
  const index = deferredIndex(embedder.dimensions, async () => {
    ensureOpen();
    return (await prepared()).index;
  });
  const core = createMemoryStoreCore({
    embedder,
    index,
    records,
    ...(options.rateImportance === undefined ? {} : { rateImportance: options.rateImportance }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.candidatePool === undefined ? {} : { candidatePool: options.candidatePool }),
    ...(options.recencyDecay === undefined ? {} : { recencyDecay: options.recencyDecay }),
  });
  return {
    ...core,
    async ready() {
      ensureOpen();
      return (await prepared()).vectors;
    },
    async close() {
      if (closed) return;
      closed = true;
      await core.close();
      const started = preparing === undefined ? undefined : await preparing.catch(() => undefined);
      if (started !== undefined) await started.index.close();
      else if (options.index !== undefined) await options.index.close();
    },
  };
}

/** `createPostgresMemoryStore`, after its tables exist: a wrong database, privilege or embedder fails here. */
export async function openPostgresMemoryStore(options: PostgresMemoryStoreOptions): Promise<PostgresMemoryStore> {
  const store = createPostgresMemoryStore(options);
  try {
    await store.ready();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

async function prepare(options: PostgresMemoryStoreOptions): Promise<{ vectors: PostgresMemoryVectors | 'given'; index: VectorIndex }> {
  const { database, embedder } = options;
  await migrateMemoryTables(database, postgresMemoryMigrations);
  const vectors = await guardedMemoryQuery(database, 'checking the embedder and the vector table', () =>
    database.transaction(async (transaction) => {
      // The migration lock again: two processes opening a new database agree on one vector table.
      await transaction.query('SELECT pg_advisory_xact_lock($1)', [migrationLockKey]);
      const settings = new Map(
        (await transaction.query<{ name: string; value: string }>(`SELECT name, value FROM memory_settings WHERE name IN ('embedder', 'vectors')`)).rows.map((row) => [row.name, row.value]),
      );
      const recordedEmbedder = settings.get('embedder');
      if (recordedEmbedder !== undefined && recordedEmbedder !== embedder.id) throw embedderMismatch(recordedEmbedder, embedder.id);
      if (recordedEmbedder === undefined) await transaction.query(`INSERT INTO memory_settings (name, value) VALUES ('embedder', $1)`, [embedder.id]);
      if (options.index !== undefined) return 'given' as const;
      const recorded = settings.get('vectors') as PostgresMemoryVectors | undefined;
      if (recorded !== undefined) {
        if (options.vectors !== undefined && options.vectors !== recorded) {
          throw new KeelError('invalid-config', `The memory store on the ${database.description} keeps its vectors ${describeVectors(recorded)}; it cannot be opened with vectors: '${options.vectors}'. Leave the option out, or use another schema.`);
        }
        return recorded;
      }
      const chosen = await createVectorTable(transaction, options);
      await transaction.query(`INSERT INTO memory_settings (name, value) VALUES ('vectors', $1)`, [chosen]);
      return chosen;
    }),
  );
  if (vectors === 'given') return { vectors, index: options.index as VectorIndex };
  const open = { client: database, dimensions: embedder.dimensions, table: vectorTables[vectors], setup: false };
  if (vectors === 'exact') return { vectors, index: await createPostgresExactIndex(open) };
  const extensionSchema = await guardedMemoryQuery(database, 'finding the pgvector extension', () => pgvectorSchema(database));
  if (extensionSchema === undefined) {
    throw new KeelError('storage-failure', `The memory store on the ${database.description} keeps its vectors with pgvector, but the extension is no longer installed: reinstall it (CREATE EXTENSION vector).`, { retryable: false });
  }
  return { vectors, index: await createPgvectorIndex({ ...open, extensionSchema }) };
}

function describeVectors(vectors: PostgresMemoryVectors): string {
  return vectors === 'pgvector' ? 'with pgvector' : 'as float8 arrays scanned exactly (the server had no pgvector)';
}

/**
 * The vector table of a new store: pgvector when the server has the extension (installed in any schema, or available
 * to install), an exact-scan table otherwise. Creating the extension needs a privilege the user may lack; it is tried
 * under a savepoint, and without `vectors: 'pgvector'` a refusal falls back to the exact table.
 */
async function createVectorTable(transaction: MemorySqlExecutor, options: PostgresMemoryStoreOptions): Promise<PostgresMemoryVectors> {
  const dimensions = options.embedder.dimensions;
  const wanted = options.vectors ?? ((await pgvectorAvailable(transaction)) ? 'pgvector' : 'exact');
  if (wanted === 'pgvector') {
    await transaction.exec('SAVEPOINT keel_memory_vectors');
    try {
      if ((await pgvectorSchema(transaction)) === undefined) await transaction.exec('CREATE EXTENSION vector');
      const extensionSchema = await pgvectorSchema(transaction);
      await createPgvectorIndex({ client: transaction, dimensions, table: vectorTables.pgvector, ...(extensionSchema === undefined ? {} : { extensionSchema }) });
      await transaction.exec('RELEASE SAVEPOINT keel_memory_vectors');
      return 'pgvector';
    } catch (error) {
      await transaction.exec('ROLLBACK TO SAVEPOINT keel_memory_vectors');
      if (options.vectors === 'pgvector') {
        throw new KeelError('invalid-config', `vectors: 'pgvector' needs the pgvector extension on the database, and creating it failed: ${error instanceof Error ? error.message : String(error)}. Install pgvector on the server (or let an administrator run CREATE EXTENSION vector), or leave the option out to scan exactly.`, { cause: error });
      }
    }
  }
  await createPostgresExactIndex({ client: transaction, dimensions, table: vectorTables.exact });
  return 'exact';
}

async function pgvectorAvailable(client: MemorySqlExecutor): Promise<boolean> {
  const { rows } = await client.query<{ available: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') OR EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') AS available`,
  );
  return rows[0]?.available === true;
}

/** The schema pgvector is installed in (its type and operator are named with it), or undefined when it is not installed. */
async function pgvectorSchema(client: MemorySqlExecutor): Promise<string | undefined> {
  const { rows } = await client.query<{ schema: string }>(`SELECT n.nspname AS schema FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector'`);
  return rows[0]?.schema;
}

/** A vector index that opens on first use, since the PostgreSQL store decides its table asynchronously. */
function deferredIndex(dimensions: number, resolve: () => Promise<VectorIndex>): VectorIndex {
  return {
    dimensions,
    upsert: async (items) => (await resolve()).upsert(items),
    search: async (vector, k, filter) => (await resolve()).search(vector, k, filter),
    delete: async (ids) => (await resolve()).delete(ids),
    count: async () => (await resolve()).count(),
    // The store closes the resolved index itself.
    close: async () => undefined,
  };
}

function postgresRecordTable(database: PostgresMemoryDatabase, ready: () => Promise<void>): MemoryRecordTable {
  const guarded = async <T>(action: string, work: () => Promise<T>): Promise<T> => {
    await ready();
    return guardedMemoryQuery(database, action, work);
  };
  const selectColumns = 'sequence, id, agent, session_id, kind, text, importance, created_at, last_accessed_at, sources';
  return {
    read: (ids) =>
      guarded('reading memories', async () => {
        const { rows } = await database.query<MemoryRow>(`SELECT ${selectColumns} FROM memories WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb))`, [JSON.stringify(ids)]);
        return rows.map(toRecord);
      }),
    insert: (record) =>
      guarded('storing a memory', () =>
        database.transaction(async (transaction) => {
          await transaction.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [insertLockClass, record.scope.agent]);
          const inserted = await transaction.query(
            `INSERT INTO memories (id, agent, session_id, kind, text, importance, created_at, last_accessed_at, sources)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb) ON CONFLICT (id) DO NOTHING`,
            [
              record.id,
              record.scope.agent,
              record.scope.sessionId ?? null,
              record.kind,
              Buffer.from(record.text, 'utf8'),
              record.importance,
              record.createdAt,
              record.lastAccessedAt,
              record.sources === undefined ? null : JSON.stringify(record.sources),
            ],
          );
          if (inserted.rowCount === 1) return record;
          const { rows } = await transaction.query<MemoryRow>(`SELECT ${selectColumns} FROM memories WHERE id = $1`, [record.id]);
          return toRecord(rows[0] as MemoryRow);
        }),
      ),
    remove: (id) =>
      guarded('undoing a memory', async () => {
        await database.query('DELETE FROM memories WHERE id = $1', [id]);
      }),
    touch: (ids, now) =>
      guarded('marking memories accessed', async () => {
        await database.query('UPDATE memories SET last_accessed_at = $1 WHERE id IN (SELECT jsonb_array_elements_text($2::jsonb))', [now, JSON.stringify(ids)]);
      }),
    list: (scope, listOptions) =>
      guarded('listing memories', async () => {
        const { rows } = await database.query<MemoryRow>(
          `SELECT ${selectColumns} FROM memories WHERE agent = $1 AND ($2::text IS NULL OR session_id = $2::text) AND sequence > $3 ORDER BY sequence LIMIT $4`,
          [scope.agent, scope.sessionId ?? null, listOptions.afterSequence ?? 0, listOptions.limit ?? null],
        );
        return rows.map((row): SequencedMemory => ({ ...toRecord(row), sequence: Number(row.sequence) }));
      }),
    reflectedThrough: (scope: MemoryScope) =>
      guarded('reading the reflection state', async () => {
        const { rows } = await database.query<{ last_sequence: string | number }>('SELECT last_sequence FROM memory_reflection_state WHERE agent = $1 AND session_key = $2', [
          scope.agent,
          scope.sessionId ?? '',
        ]);
        return rows[0] === undefined ? 0 : Number(rows[0].last_sequence);
      }),
    markReflected: (scope, sequence, expected) =>
      guarded('saving the reflection state', async () => {
        const key = [scope.agent, scope.sessionId ?? '', sequence];
        if (expected === undefined) {
          await database.query(
            `INSERT INTO memory_reflection_state (agent, session_key, last_sequence) VALUES ($1, $2, $3)
             ON CONFLICT (agent, session_key) DO UPDATE SET last_sequence = excluded.last_sequence`,
            key,
          );
          return true;
        }
        // Compare-and-set in one statement (the row lock orders racing writers): from no mark (0) the row may be
        // missing, from any other mark it must hold it.
        const moved =
          expected === 0
            ? await database.query(
                `INSERT INTO memory_reflection_state (agent, session_key, last_sequence) VALUES ($1, $2, $3)
                 ON CONFLICT (agent, session_key) DO UPDATE SET last_sequence = excluded.last_sequence WHERE memory_reflection_state.last_sequence = 0`,
                key,
              )
            : await database.query('UPDATE memory_reflection_state SET last_sequence = $3 WHERE agent = $1 AND session_key = $2 AND last_sequence = $4', [...key, expected]);
        return moved.rowCount === 1;
      }),
    // The database belongs to the caller.
    close: async () => undefined,
  };
}

function toRecord(row: MemoryRow): MemoryRecord {
  const sources = typeof row.sources === 'string' ? (JSON.parse(row.sources) as string[]) : row.sources;
  return {
    id: row.id,
    scope: row.session_id === null ? { agent: row.agent } : { agent: row.agent, sessionId: row.session_id },
    kind: row.kind,
    text: Buffer.from(row.text.buffer, row.text.byteOffset, row.text.byteLength).toString('utf8'),
    importance: Number(row.importance),
    createdAt: Number(row.created_at),
    lastAccessedAt: Number(row.last_accessed_at),
    ...(sources === null ? {} : { sources: [...sources] }),
  };
}
