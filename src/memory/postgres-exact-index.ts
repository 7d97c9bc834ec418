import { KeelError } from '../errors/index.ts';
import type { VectorFilter, VectorIndex, VectorItem, VectorMatch, VectorMetadata } from './memory-types.ts';
import type { SqlClient } from './pgvector-index.ts';
import { checkFilterKeys, checkPositiveInteger, norm, toVector } from './vector-math.ts';

export interface PostgresExactIndexOptions {
  /** A `pg` Pool or Client, or PGlite. */
  readonly client: SqlClient;
  readonly dimensions: number;
  /** Defaults to `keel_exact_vectors`. */
  readonly table?: string;
  /** Creates the table when missing. Defaults to true; turn off where a migration tool owns the schema. */
  readonly setup?: boolean;
}

const tablePattern = /^[A-Za-z_][A-Za-z0-9_]{0,50}$/;
const batchSize = 500;

/**
 * Vectors in plain PostgreSQL, for servers without the pgvector extension (Debian's packages lack it): each vector
 * is a `float8[]` with its norm, and a search computes the exact cosine of every row matching the filter in SQL,
 * best first. Results are exact, like the pgvector index without an ANN index; the cost is a full scan of the
 * matching rows per search, so it suits up to tens of thousands of memories per scope. Processes sharing the
 * database share the index.
 */
export async function createPostgresExactIndex(options: PostgresExactIndexOptions): Promise<VectorIndex> {
  const { client, dimensions } = options;
  checkPositiveInteger(dimensions, 'dimensions', 'invalid-config');
  const table = options.table ?? 'keel_exact_vectors';
  if (!tablePattern.test(table)) throw new KeelError('invalid-config', `table "${table}" must match ${tablePattern}.`);
  const query = async <Row>(action: string, sql: string, params?: unknown[]): Promise<Row[]> => {
    try {
      return (await client.query(sql, params)).rows as Row[];
    } catch (error) {
      if (error instanceof KeelError) throw error;
      throw new KeelError('storage-failure', `PostgreSQL failed while ${action} in the vector table ${table}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
        details: { table, action },
      });
    }
  };

  if (options.setup ?? true) {
    await query(
      'creating the table',
      `CREATE TABLE IF NOT EXISTS ${table} (
         id text PRIMARY KEY,
         embedding float8[] NOT NULL,
         norm float8 NOT NULL,
         metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
         CONSTRAINT ${table}_dimensions CHECK (cardinality(embedding) = ${dimensions})
       )`,
    );
  }
  const [constraint] = await query<{ definition: string }>(
    'reading the table',
    `SELECT pg_get_constraintdef(oid) AS definition FROM pg_constraint WHERE conrelid = $1::regclass AND conname = $2`,
    [table, `${table}_dimensions`],
  );
  const stored = constraint === undefined ? undefined : /=\s*(\d+)/.exec(constraint.definition)?.[1];
  if (stored === undefined || Number(stored) !== dimensions) {
    throw new KeelError('invalid-config', `The vector table ${table} holds vectors of ${stored ?? 'unknown'} dimensions, not ${dimensions}.`);
  }
  let closed = false;
  function ensureOpen(): void {
    if (closed) throw new KeelError('invalid-argument', `The vector index ${table} is closed.`);
  }

  return {
    dimensions,
    async upsert(items: readonly VectorItem[]): Promise<void> {
      ensureOpen();
      // Every vector is checked before anything is written: a bad one leaves the batch unstored.
      const latest = new Map<string, { vector: Float32Array; metadata: VectorMetadata }>();
      for (const item of items) latest.set(item.id, { vector: toVector(item.vector, dimensions), metadata: item.metadata ?? {} });
      const entries = [...latest];
      for (let start = 0; start < entries.length; start += batchSize) {
        const batch = entries.slice(start, start + batchSize);
        await query(
          'upserting',
          `INSERT INTO ${table} (id, embedding, norm, metadata)
           SELECT id, ARRAY(SELECT jsonb_array_elements_text(embedding)::float8), norm, metadata
             FROM jsonb_to_recordset($1::jsonb) AS row(id text, embedding jsonb, norm float8, metadata jsonb)
           ON CONFLICT (id) DO UPDATE SET embedding = excluded.embedding, norm = excluded.norm, metadata = excluded.metadata`,
          [JSON.stringify(batch.map(([id, { vector, metadata }]) => ({ id, embedding: Array.from(vector), norm: norm(vector), metadata })))],
        );
      }
    },
    async search(vector: ArrayLike<number>, k: number, filter?: VectorFilter): Promise<VectorMatch[]> {
      ensureOpen();
      checkPositiveInteger(k, 'k');
      checkFilterKeys(filter);
      const target = toVector(vector, dimensions, 'query vector');
      const targetNorm = norm(target);
      const rows = await query<{ id: string; metadata: VectorMetadata; score: number }>(
        'searching',
        `SELECT id, metadata,
                CASE WHEN norm = 0 OR $2::float8 = 0 THEN 0
                     ELSE (SELECT sum(a * b) FROM unnest(embedding, $1::float8[]) AS pair(a, b)) / (norm * $2::float8) END AS score
           FROM ${table} WHERE metadata @> $3::jsonb ORDER BY score DESC, id LIMIT $4`,
        [Array.from(target), targetNorm, JSON.stringify(filter ?? {}), k],
      );
      return rows.map((row) => ({ id: row.id, score: Number(row.score), metadata: parseJson(row.metadata) }));
    },
    async delete(ids: readonly string[]): Promise<void> {
      ensureOpen();
      if (ids.length === 0) return;
      await query('deleting', `DELETE FROM ${table} WHERE id IN (SELECT jsonb_array_elements_text($1::jsonb))`, [JSON.stringify(ids)]);
    },
    async count(): Promise<number> {
      ensureOpen();
      const [row] = await query<{ count: number | string }>('counting', `SELECT count(*)::int AS count FROM ${table}`);
      return Number(row?.count ?? 0);
    },
    async close(): Promise<void> {
      // The client belongs to the caller.
      closed = true;
    },
  };
}

function parseJson(value: unknown): VectorMetadata {
  return (typeof value === 'string' ? JSON.parse(value) : value) as VectorMetadata;
}
